/**
 * The wire side of one metadata connection: reading frames, the extended handshake, and
 * turning ut_metadata messages into assembly events. Everything a peer sends that is not
 * BEP 10/BEP 9 (bitfields, haves, choke…) is skipped: we only want the metadata.
 */
import { Effect, Result } from "effect"
import type { Connection } from "../net/index.ts"
import { CLIENT_VERSION } from "../version.ts"
import {
  decodeExtendedHandshake,
  decodeUtMetadata,
  encodeMessage,
  encodeUtMetadata,
  EXTENDED_HANDSHAKE_ID,
  type ExtendedHandshake,
  extendedHandshakeMessage,
  type Framer,
  type Message
} from "../wire/index.ts"
import { type Assembly, onData, onReject, type PeerKey } from "./assembly.ts"
import { MetadataPeerDropped } from "./errors.ts"

/** Where peers send us ut_metadata messages (our `m`). */
export const OUR_UT_METADATA_ID = 2

const write = (conn: Connection, key: PeerKey, message: Message) =>
  conn.write(encodeMessage(message)).pipe(
    Effect.mapError((e) => new MetadataPeerDropped({ peer: key, detail: e.message }))
  )

export const sendOurExtendedHandshake = (conn: Connection, key: PeerKey) =>
  write(conn, key, extendedHandshakeMessage({ m: { ut_metadata: OUR_UT_METADATA_ID }, v: CLIENT_VERSION }))

/** BEP 6: with the fast extension on both sides, the first message says what we have. */
export const sendHaveNone = (conn: Connection, key: PeerKey) => write(conn, key, { _tag: "HaveNone" })

export const sendRequest = (conn: Connection, key: PeerKey, theirId: number, piece: number) =>
  write(conn, key, { _tag: "Extended", id: theirId, payload: encodeUtMetadata({ _tag: "Request", piece }) })

/** The next message; unknown message ids are skipped, other wire errors drop the peer. */
export const nextMessage = (conn: Connection, framer: Framer, key: PeerKey): Effect.Effect<Message, MetadataPeerDropped> =>
  Effect.gen(function*() {
    while (true) {
      const r = framer.nextMessage()
      if (Result.isFailure(r)) {
        if (r.failure.recoverable) continue
        return yield* new MetadataPeerDropped({ peer: key, detail: r.failure.message })
      }
      if (r.success !== undefined) return r.success
      framer.push(yield* conn.read.pipe(Effect.mapError((e) => new MetadataPeerDropped({ peer: key, detail: e.message }))))
    }
  })

/** Reads until the peer's BEP 10 handshake, skipping whatever comes before it. */
export const waitExtendedHandshake = (
  conn: Connection,
  framer: Framer,
  key: PeerKey
): Effect.Effect<ExtendedHandshake, MetadataPeerDropped> =>
  Effect.gen(function*() {
    while (true) {
      const message = yield* nextMessage(conn, framer, key)
      if (message?._tag !== "Extended" || message.id !== EXTENDED_HANDSHAKE_ID) continue
      const ext = decodeExtendedHandshake(message.payload)
      if (Result.isFailure(ext)) return yield* new MetadataPeerDropped({ peer: key, detail: ext.failure.message })
      return ext.success
    }
  })

export type FrameOutcome =
  | { readonly _tag: "Continue" }
  /** The assembly changed: hand out requests again. */
  | { readonly _tag: "Changed" }
  | { readonly _tag: "Complete"; readonly metadata: Uint8Array }
  | { readonly _tag: "HashMismatch"; readonly contributors: ReadonlyArray<PeerKey>; readonly banned: ReadonlyArray<PeerKey> }
  | { readonly _tag: "Drop"; readonly reason: string }

const CONTINUE: FrameOutcome = { _tag: "Continue" }
const CHANGED: FrameOutcome = { _tag: "Changed" }


/** The peer's current ut_metadata id: a later extended handshake may change it (BEP 10). */
export interface TheirIds {
  theirId: number
}

/** One message from a registered peer. */
export const handleMessage = (
  a: Assembly,
  conn: Connection,
  key: PeerKey,
  message: Message,
  peer: TheirIds
): Effect.Effect<FrameOutcome, MetadataPeerDropped> =>
  Effect.gen(function*() {
    if (message._tag !== "Extended") return CONTINUE
    if (message.id === EXTENDED_HANDSHAKE_ID) {
      const ext = decodeExtendedHandshake(message.payload)
      if (Result.isFailure(ext)) return { _tag: "Drop", reason: ext.failure.message }
      const id = ext.success.m["ut_metadata"]
      if (id === 0) return { _tag: "Drop", reason: "disabled ut_metadata" }
      if (id !== undefined) peer.theirId = id
      return CONTINUE
    }
    if (message.id !== OUR_UT_METADATA_ID) return CONTINUE
    const m = decodeUtMetadata(message.payload)
    if (Result.isFailure(m)) return { _tag: "Drop", reason: m.failure.message }
    switch (m.success._tag) {
      case "Request":
        // BEP 9: a peer without the whole metadata rejects every request.
        yield* write(conn, key, {
          _tag: "Extended",
          id: peer.theirId,
          payload: encodeUtMetadata({ _tag: "Reject", piece: m.success.piece })
        })
        return CONTINUE
      case "Reject": {
        const r = onReject(a, key, m.success.piece)
        if (r._tag === "Ignored") return CONTINUE
        return r.useless ? { _tag: "Drop", reason: "rejected every missing metadata piece" } : CHANGED
      }
      case "Data": {
        const r = onData(a, key, m.success.piece, m.success.totalSize, m.success.data)
        switch (r._tag) {
          case "Ignored":
            return CONTINUE
          case "Stored":
            return CHANGED
          case "Violation":
            return { _tag: "Drop", reason: r.reason }
          case "Complete":
            return { _tag: "Complete", metadata: r.metadata }
          case "HashMismatch":
            return { _tag: "HashMismatch", contributors: r.contributors, banned: r.banned }
        }
      }
      // Future message types (BEP 9: ignore what you do not know).
      case "Unknown":
        return CONTINUE
    }
  })
