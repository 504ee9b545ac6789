/**
 * A TCP relay on 127.0.0.1 that holds every connection it accepts until `open`, then joins
 * each one to the target (and those after at once). A test names the relay as the peer: the
 * other side has dialled and waits for a handshake, which is a phase held still on purpose
 * (no timer), and `open` lets the real exchange through. A held connection is read (kept
 * for the target) so that its closing is seen: `live` tells when the other side hung up.
 * Closed with the scope.
 */
import { Deferred, Effect } from "effect"
import * as Net from "node:net"

export interface GateRelay {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Accepted connections not closed yet. */
  readonly live: () => number
  readonly open: Effect.Effect<void>
}

export const gateRelay = (targetPort: number) =>
  Effect.gen(function*() {
    let opened = false
    let accepted = 0
    let closed = 0
    const held: Array<{ readonly socket: Net.Socket; readonly early: Array<Buffer>; readonly keep: (chunk: Buffer) => void }> = []
    const sockets = new Set<Net.Socket>()
    const join = (inbound: Net.Socket, early: ReadonlyArray<Buffer> = []) => {
      const outbound = Net.connect(targetPort, "127.0.0.1")
      for (const chunk of early) outbound.write(chunk)
      sockets.add(outbound)
      outbound.on("error", () => inbound.destroy())
      inbound.on("error", () => outbound.destroy())
      outbound.on("close", () => inbound.destroy())
      inbound.on("close", () => outbound.destroy())
      inbound.pipe(outbound)
      outbound.pipe(inbound)
      inbound.resume()
    }
    const server = Net.createServer({ pauseOnConnect: true }, (socket) => {
      accepted++
      sockets.add(socket)
      socket.on("close", () => { closed++ })
      if (opened) return join(socket)
      const early: Array<Buffer> = []
      const keep = (chunk: Buffer) => { early.push(chunk) }
      socket.on("data", keep)
      socket.on("error", () => socket.destroy())
      socket.resume()
      held.push({ socket, early, keep })
    })
    const listening = yield* Deferred.make<number>()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      Deferred.doneUnsafe(listening, Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
    })
    yield* Effect.addFinalizer(() =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
    )
    const relay: GateRelay = {
      port: yield* Deferred.await(listening),
      connections: () => accepted,
      live: () => accepted - closed,
      open: Effect.sync(() => {
        opened = true
        for (const h of held.splice(0)) {
          h.socket.off("data", h.keep)
          h.socket.pause()
          if (!h.socket.destroyed) join(h.socket, h.early)
        }
      })
    }
    return relay
  })
