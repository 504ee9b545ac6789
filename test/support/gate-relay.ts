/**
 * A TCP relay on 127.0.0.1 that holds every connection it accepts until `open`, then joins
 * each one to the target (and those after at once). A test names the relay as the peer: the
 * other side has dialled and waits for a handshake, which is a phase held still on purpose
 * (no timer), and `open` lets the real exchange through. Closed with the scope.
 */
import { Deferred, Effect } from "effect"
import * as Net from "node:net"

export interface GateRelay {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  readonly open: Effect.Effect<void>
}

export const gateRelay = (targetPort: number) =>
  Effect.gen(function*() {
    let opened = false
    let accepted = 0
    const held: Array<Net.Socket> = []
    const sockets = new Set<Net.Socket>()
    const join = (inbound: Net.Socket) => {
      const outbound = Net.connect(targetPort, "127.0.0.1")
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
      if (opened) join(socket)
      else held.push(socket)
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
      open: Effect.sync(() => {
        opened = true
        for (const s of held.splice(0)) join(s)
      })
    }
    return relay
  })
