/**
 * Answering other nodes (BEP 5, server side): ping, find_node, get_peers (with a token
 * bound to the asker's IP) and announce_peer (checked against that token, then stored),
 * error replies to malformed queries, and a token bucket per source. Responses to our own
 * queries go to the rpc. `answerQuery` is the pure core; `makeServer` adds the effects
 * (the clock, token secret rotation, sending).
 *
 * BEP 32: the asker's address family picks the table it is recorded in, the peers in
 * `values` (IPv4 ones over IPv4, IPv6 ones over IPv6) and, without a `want`, the node list
 * (`nodes` over IPv4, `nodes6` over IPv6); a `want` of "n4"/"n6" asks for either or both.
 */
import { Clock, Effect, Result } from "effect"
import { type Address, formatAddress, type UdpSocket } from "../net/index.ts"
import { type Family, familyOf, type NodeInfo } from "./compact.ts"
import type { Contacts } from "./contacts.ts"
import { idKey, randomBytes } from "./id.ts"
import {
  decodeMessage,
  encodeError,
  encodeResponse,
  ErrorCode,
  type KrpcError,
  type KrpcQuery,
  type KrpcResponse
} from "./krpc.ts"
import { peersFor, type PeerStore, storePeer } from "./peer-store.ts"
import * as Token from "./token.ts"

export interface ServerCounters {
  received: number
  malformed: number
  rateLimited: number
  queriesAnswered: number
  announcesRejected: number
  unmatched: number
}

export const makeCounters = (): ServerCounters => ({
  received: 0,
  malformed: 0,
  rateLimited: 0,
  queriesAnswered: 0,
  announcesRejected: 0,
  unmatched: 0
})

export interface AnswerContext {
  readonly ownId: Uint8Array
  readonly store: PeerStore
  readonly secrets: Token.TokenSecrets
  /** The K closest nodes we know to a target in `family`'s table (none when we have no such table). */
  readonly closest: (target: Uint8Array, family: Family) => ReadonlyArray<NodeInfo>
  readonly counters: ServerCounters
}

/** The reply to a well-formed query. Stores the peer of a valid announce_peer. */
export const answerQuery = (ctx: AnswerContext, q: KrpcQuery, from: Address, now: number): Uint8Array => {
  const body = q.body
  const family = familyOf(from) ?? 4
  const nodeLists = (target: Uint8Array, want: ReadonlyArray<"n4" | "n6"> | undefined) => {
    const asked = want ?? [family === 4 ? "n4" : "n6"]
    return {
      ...(asked.includes("n4") ? { nodes: ctx.closest(target, 4) } : {}),
      ...(asked.includes("n6") ? { nodes6: ctx.closest(target, 6) } : {})
    }
  }
  switch (body.method) {
    case "ping":
      return encodeResponse(q.t, ctx.ownId)
    case "find_node":
      return encodeResponse(q.t, ctx.ownId, nodeLists(body.target, body.want))
    case "get_peers": {
      const values = peersFor(ctx.store, idKey(body.infoHash), now, family)
      return encodeResponse(q.t, ctx.ownId, {
        token: Token.tokenFor(ctx.secrets, from.host),
        ...nodeLists(body.infoHash, body.want),
        ...(values.length > 0 ? { values } : {})
      })
    }
    case "announce_peer": {
      if (!Token.validToken(ctx.secrets, from.host, body.token)) {
        ctx.counters.announcesRejected++
        return encodeError(q.t, ErrorCode.Protocol, "bad token")
      }
      storePeer(ctx.store, idKey(body.infoHash), { host: from.host, port: body.impliedPort ? from.port : body.port }, now)
      return encodeResponse(q.t, ctx.ownId)
    }
  }
}

export interface ServerDeps {
  readonly ownId: Uint8Array
  /** The routing table of each family this node takes part in. */
  readonly contacts: (family: Family) => Contacts | undefined
  readonly store: PeerStore
  /** Whether a query from this source may be answered now (token buckets). */
  readonly admit: (source: string, now: number) => boolean
  /** Hands a response or error to the query waiting for it; false when none was. */
  readonly deliver: (message: KrpcResponse | KrpcError, from: Address) => Effect.Effect<boolean>
}

export const makeServer = Effect.fnUntraced(function*(deps: ServerDeps) {
  const counters = makeCounters()
  let secrets = Token.initialSecrets(yield* randomBytes(20), yield* Clock.currentTimeMillis)

  const currentSecrets = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (Token.needsRotation(secrets, now)) secrets = Token.rotate(secrets, now, yield* randomBytes(20))
    return secrets
  })

  /** One incoming datagram; answers leave through the socket it came in on. */
  const handle = Effect.fnUntraced(function*(payload: Uint8Array, from: Address, socket: Pick<UdpSocket, "send">) {
    const reply = (bytes: Uint8Array, to: Address) => socket.send(bytes, to).pipe(Effect.ignore)
    counters.received++
    const now = yield* Clock.currentTimeMillis
    const decoded = decodeMessage(payload)
    if (Result.isFailure(decoded)) {
      counters.malformed++
      const e = decoded.failure
      if (e.isQuery && e.transactionId !== undefined && deps.admit(formatAddress(from), now)) {
        const code = e.reason === "UnknownMethod" ? ErrorCode.MethodUnknown : ErrorCode.Protocol
        yield* reply(encodeError(e.transactionId, code, e.message), from)
      }
      return
    }
    const message = decoded.success
    if (message._tag !== "Query") {
      if (!(yield* deps.deliver(message, from))) counters.unmatched++
      return
    }
    if (!deps.admit(formatAddress(from), now)) {
      counters.rateLimited++
      return
    }
    counters.queriesAnswered++
    const contacts = deps.contacts(familyOf(from) ?? 4)
    if (!message.readOnly && contacts !== undefined) yield* contacts.noteHeard({ id: message.id, address: from }, "query", now)
    // Only get_peers and announce_peer use tokens: only they may rotate the secret (and draw randomness).
    const needsTokens = message.body.method === "get_peers" || message.body.method === "announce_peer"
    const ctx: AnswerContext = {
      ownId: deps.ownId,
      store: deps.store,
      secrets: needsTokens ? yield* currentSecrets : secrets,
      closest: (target, family) => deps.contacts(family)?.closest(target, now) ?? [],
      counters
    }
    yield* reply(answerQuery(ctx, message, from, now), from)
  })

  return { handle, counters }
})
