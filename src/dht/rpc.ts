/**
 * Outgoing KRPC queries: transaction ids, matching answers to queries,
 * per-attempt timeouts on Effect's Clock and retries. The receive loop lives
 * in the node and hands every response / error message to `deliver`.
 */
import { Deferred, Effect, Option, Random } from "effect"
import { type Address, formatAddress, parseIp, type UdpSocket } from "../net/index.ts"
import { DhtRemoteError, DhtSendError, DhtTimeout } from "./errors.ts"
import { idKey } from "./id.ts"
import { encodeQuery, type KrpcError, type KrpcResponse, type QueryBody } from "./krpc.ts"

export interface RpcOptions {
  readonly timeoutMillis: number
  readonly attempts: number
}

/** Queries in flight beyond this fail at once rather than growing the table without bound. */
export const MAX_PENDING = 4096

interface Answer {
  readonly message: KrpcResponse | KrpcError
  /** Where it came from: an IP literal even when we queried a host name. */
  readonly from: Address
}

interface Pending {
  readonly address: Address
  readonly reply: Deferred.Deferred<Answer>
}

/** A host name (a bootstrap router) answers from an IP we cannot predict without DNS: match its port only. */
const sameEndpoint = (queried: Address, from: Address) =>
  queried.port === from.port &&
  (queried.host === from.host || parseIp(queried.host) === undefined)

export const makeRpc = Effect.fnUntraced(function*(socket: Pick<UdpSocket, "send">, ownId: Uint8Array, options: RpcOptions) {
  const pending = new Map<string, Pending>()
  let nextTid = yield* Random.nextIntBetween(0, 0xffff)

  const allocateTid = (): Uint8Array | undefined => {
    if (pending.size >= MAX_PENDING) return undefined
    for (;;) {
      nextTid = (nextTid + 1) & 0xffff
      const t = Uint8Array.of(nextTid >> 8, nextTid & 0xff)
      if (!pending.has(idKey(t))) return t
    }
  }

  /**
   * An answer is accepted only from the address the query went to (a forged
   * answer from elsewhere with a guessed transaction id is ignored).
   * Returns whether it matched an outstanding query.
   */
  const deliver = (message: KrpcResponse | KrpcError, from: Address): Effect.Effect<boolean> => {
    const key = idKey(message.t)
    const p = pending.get(key)
    if (p === undefined || !sameEndpoint(p.address, from)) return Effect.succeed(false)
    pending.delete(key)
    return Deferred.succeed(p.reply, { message, from })
  }

  const query = (address: Address, body: QueryBody) =>
    Effect.gen(function*() {
      const target = formatAddress(address)
      const t = allocateTid()
      if (t === undefined) return yield* new DhtSendError({ address: target, detail: "too many queries in flight" })
      const key = idKey(t)
      const reply = yield* Deferred.make<Answer>()
      pending.set(key, { address, reply })
      const payload = encodeQuery(t, ownId, body)
      return yield* Effect.gen(function*() {
        for (let attempt = 0; attempt < options.attempts; attempt++) {
          yield* socket.send(payload, address).pipe(
            Effect.mapError((e) => new DhtSendError({ address: target, detail: e.message }))
          )
          // the same transaction id is reused, so a late answer to an earlier attempt still counts
          const got = yield* Deferred.await(reply).pipe(Effect.timeoutOption(options.timeoutMillis))
          if (Option.isSome(got)) {
            const m = got.value.message
            if (m._tag === "Error") {
              return yield* new DhtRemoteError({ address: target, method: body.method, code: m.code, detail: m.message })
            }
            return { response: m, from: got.value.from }
          }
        }
        return yield* new DhtTimeout({ address: target, method: body.method, attempts: options.attempts })
      }).pipe(Effect.ensuring(Effect.sync(() => {
        if (pending.get(key)?.reply === reply) pending.delete(key)
      })))
    })

  return { query, deliver, pendingCount: () => pending.size } as const
})
