/**
 * The BEP 14 multicast group on loopback, seen from outside our client: a raw node:dgram
 * socket joined to 239.192.152.143:6771 on 127.0.0.1 that records every announce it hears,
 * and a probe telling whether this kernel delivers multicast on loopback at all.
 */
import { Deferred, Duration, Effect, Result } from "effect"
import * as Dgram from "node:dgram"
import { randomBytes } from "node:crypto"
import { LSD_GROUP_V4, LSD_PORT, type LsdAnnounce, parseAnnounce } from "../../src/lsd/index.ts"
import { requirement } from "./requirements.ts"

const LOOPBACK = "127.0.0.1"

const openGroupSocket = (): Promise<Dgram.Socket> =>
  new Promise((resolve, reject) => {
    const socket = Dgram.createSocket({ type: "udp4", reuseAddr: true })
    socket.once("error", reject)
    socket.bind({ address: "0.0.0.0", port: LSD_PORT }, () => {
      try {
        socket.addMembership(LSD_GROUP_V4, LOOPBACK)
        socket.setMulticastInterface(LOOPBACK)
        socket.setMulticastLoopback(true)
        socket.off("error", reject)
        resolve(socket)
      } catch (cause) {
        socket.close()
        reject(cause)
      }
    })
  })

/**
 * Whether a datagram sent to the group through 127.0.0.1 comes back to a member joined on
 * 127.0.0.1 (IP_MULTICAST_IF + IP_MULTICAST_LOOP), within 2 s: a capability check, not a
 * test of our code. Runs once when a test file loads.
 *
 * Seen on Linux 6.18: this works with lo lacking the MULTICAST flag, and in a fresh network
 * namespace with only lo up and no route at all. What fails: joining or sending with no
 * interface named and no route (ENODEV, ENETUNREACH), and lo down (EADDRNOTAVAIL); with
 * only `ip route add 224.0.0.0/4 dev lo` and no interface named, datagrams arrive from
 * 0.0.0.0, useless to LSD (the sender's address is the peer's).
 */
const probeLoopbackMulticast = async (): Promise<string | null> => {
  let a: Dgram.Socket | undefined
  let b: Dgram.Socket | undefined
  try {
    a = await openGroupSocket()
    b = await openGroupSocket()
    const nonce = `et-lsd-probe ${randomBytes(8).toString("hex")}`
    const receiver = b
    const heard = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000)
      receiver.on("message", (payload) => {
        if (payload.toString() !== nonce) return
        clearTimeout(timer)
        resolve(true)
      })
    })
    const sender = a
    await new Promise<void>((resolve, reject) => sender.send(nonce, LSD_PORT, LSD_GROUP_V4, (e) => (e ? reject(e) : resolve())))
    return (await heard) ? null : "a datagram sent to the group through 127.0.0.1 did not come back within 2 s"
  } catch (cause) {
    return cause instanceof Error ? cause.message : String(cause)
  } finally {
    a?.close()
    b?.close()
  }
}

const probeFailure = await probeLoopbackMulticast()

export const loopbackMulticast = requirement(
  probeFailure === null,
  `multicast on loopback (${LSD_GROUP_V4}:${LSD_PORT} through 127.0.0.1${probeFailure === null ? "" : `: ${probeFailure}`})`,
  "a kernel with IPv4 multicast and lo up with 127.0.0.1; no multicast route is needed: members join on 127.0.0.1 and send through it (IP_MULTICAST_IF)"
)

export interface HeardAnnounce extends LsdAnnounce {
  readonly from: string
}

export interface GroupListener {
  /** Every announce heard so far, in order of arrival. */
  readonly heard: () => ReadonlyArray<HeardAnnounce>
  /** The first announce (already heard or still to come) matching `predicate`; dies on timeout with what was heard. */
  readonly waitFor: (what: string, predicate: (a: HeardAnnounce) => boolean, timeout?: Duration.Input) => Effect.Effect<HeardAnnounce>
}

/** A raw member of the group on loopback, recording announces until the scope closes. */
export const listenToGroup = Effect.gen(function*() {
  const socket = yield* Effect.acquireRelease(Effect.promise(openGroupSocket), (s) => Effect.sync(() => s.close()))
  const heard: Array<HeardAnnounce> = []
  const waiters = new Set<{ readonly predicate: (a: HeardAnnounce) => boolean; readonly found: Deferred.Deferred<HeardAnnounce> }>()
  socket.on("message", (payload, rinfo) => {
    const parsed = parseAnnounce(payload)
    if (Result.isFailure(parsed)) return
    const announce: HeardAnnounce = { ...parsed.success, from: rinfo.address }
    heard.push(announce)
    for (const w of waiters) {
      if (!w.predicate(announce)) continue
      waiters.delete(w)
      Deferred.doneUnsafe(w.found, Effect.succeed(announce))
    }
  })
  const listener: GroupListener = {
    heard: () => heard,
    waitFor: (what, predicate, timeout = "10 seconds") =>
      Effect.gen(function*() {
        const seen = heard.find(predicate)
        if (seen !== undefined) return seen
        const found = yield* Deferred.make<HeardAnnounce>()
        const waiter = { predicate, found }
        waiters.add(waiter)
        return yield* Deferred.await(found).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () =>
              Effect.die(new Error(`no announce ${what} within ${Duration.format(Duration.fromInputUnsafe(timeout))}; heard:\n  ${heard.map((a) => JSON.stringify(a)).join("\n  ")}`))
          }),
          Effect.ensuring(Effect.sync(() => waiters.delete(waiter)))
        )
      })
  }
  return listener
})
