/**
 * A real peer session for tests that drive one directly (its state, outbox and reader on a
 * connection of the test), and a reader of the wire messages that reach the other end.
 */
import { assert } from "@effect/vitest"
import { Effect, Result } from "effect"
import type { PeerKey } from "../../src/ids.ts"
import type { Connection } from "../../src/net/index.ts"
import { DEFAULT_SESSION_OPTIONS, PeerError, type TorrentLink } from "../../src/peer/index.ts"
import { makeOutbox } from "../../src/peer/outbox.ts"
import { PeerSession } from "../../src/peer/peer-session.ts"
import { makeSessionState } from "../../src/peer/session-state.ts"
import { decodeFrame, makeFramer, type Message } from "../../src/wire/index.ts"

/**
 * A session (fast extension on, clock at 0) with `key` on `conn`; its writer fibers and its
 * end go to `fork`, as session.ts runs them in the session's FiberSet.
 */
export const liveSession = (
  key: PeerKey,
  conn: Connection,
  torrent: TorrentLink,
  fork: (effect: Effect.Effect<void, PeerError>) => unknown
) =>
  Effect.gen(function*() {
    const s = makeSessionState(key, conn, true, "test", 0, 250, torrent.pieceCount)
    const toPeerError = (e: { readonly message: string }) => new PeerError({ reason: "Network", peer: key, detail: e.message })
    const outbox = yield* makeOutbox(s, conn, torrent, () => 0, toPeerError, (writer) => void fork(writer))
    const session = new PeerSession({
      s,
      torrent,
      options: DEFAULT_SESSION_OPTIONS,
      conn,
      framer: makeFramer(),
      outbox,
      now: () => 0,
      fork,
      toPeerError,
      wire: null,
      extended: false
    })
    return { s, session }
  })

/** Reads from `conn` until `count` more messages arrived; returns them. Keeps what it framed beyond them for the next call. */
export const messageReader = (conn: Connection) => {
  const framer = makeFramer()
  const framed: Array<Message> = []
  return (count: number) =>
    Effect.gen(function*() {
      while (framed.length < count) {
        framer.push(yield* conn.read)
        for (let next = framer.next(); ; next = framer.next()) {
          if (Result.isFailure(next)) return assert.fail(next.failure.message)
          if (next.success === undefined) break
          const message = decodeFrame(next.success)
          if (Result.isFailure(message)) return assert.fail(message.failure.message)
          framed.push(message.success)
        }
      }
      return framed.splice(0, count)
    })
}

/** Reads from `conn` until `count` messages arrived (a reader of its own: call once per connection or use `messageReader`). */
export const readMessages = (conn: Connection, count: number) => messageReader(conn)(count)
