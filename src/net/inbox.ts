/**
 * The receive side of a socket: what arrives before anyone asks waits in a bounded
 * queue, a receiver asks with `take`, and the end of the socket is remembered so that
 * later receivers fail at once. Real UDP sockets, the views of a shared UDP port and the
 * simulator's UDP sockets and TCP listeners all receive through it.
 *
 * Invariant: a receiver waits only while the queue is empty and the inbox open. `offer`
 * hands an item straight to the longest-waiting receiver, and `end` fails every waiting
 * receiver; so items leave in the order they came, and nothing sits queued while someone
 * waits.
 *
 * Not Effect's `Queue`: its `offerUnsafe` wakes a taker through the fiber's scheduler on
 * a later task, while the callers here run outside any fiber (a node:dgram event, a
 * simulator event) and hand the item over within that same call.
 */
import { Effect } from "effect"
import type { Address, Datagram, DatagramHandler } from "./Network.ts"
import type { NetError } from "./errors.ts"

/** Items are objects: `undefined` is how an empty queue answers. */
export interface Inbox<A extends object, E> {
  /** Hands `item` to a waiting receiver, else queues it; false (the item is not kept) once ended or full. */
  readonly offer: (item: A) => boolean
  /** The next item: queued ones first (also after the end), then the end's error; else waits (interruptibly). */
  readonly take: Effect.Effect<A, E>
  /** Ends the inbox: waiting receivers fail with `error`; queued items stay for `take` and `drain`. Only the first end counts. */
  readonly end: (error: E) => void
  /** Removes and returns every queued item. */
  readonly drain: () => Array<A>
  /** The error the inbox ended with, if it has ended. */
  readonly ended: () => E | undefined
}

/** An inbox that keeps at most `capacity` items for receivers (what comes beyond is refused). */
export const makeInbox = <A extends object, E>(capacity: number): Inbox<A, E> => {
  const queue: Array<A> = []
  const waiters: Array<(result: Effect.Effect<A, E>) => void> = []
  let ended: E | undefined
  const offer = (item: A): boolean => {
    if (ended !== undefined) return false
    const waiter = waiters.shift()
    if (waiter !== undefined) {
      waiter(Effect.succeed(item))
      return true
    }
    if (queue.length >= capacity) return false
    queue.push(item)
    return true
  }
  const take = Effect.callback<A, E>((resume) => {
    const next = queue.shift()
    if (next !== undefined) return resume(Effect.succeed(next))
    if (ended !== undefined) return resume(Effect.fail(ended))
    waiters.push(resume)
    return Effect.sync(() => {
      const at = waiters.indexOf(resume)
      if (at >= 0) waiters.splice(at, 1)
    })
  })
  const end = (error: E): void => {
    if (ended !== undefined) return
    ended = error
    for (const waiter of waiters.splice(0)) waiter(Effect.fail(error))
  }
  return { offer, take, end, drain: () => queue.splice(0), ended: () => ended }
}

/**
 * A UDP socket's receive side (`UdpSocket.receive` and `subscribe`): datagrams go to the
 * subscriber once there is one (those queued before are handed to it first), else into
 * an inbox of `capacity` (a full one drops them, as a kernel's receive buffer does).
 */
export interface DatagramInbox {
  readonly deliver: (payload: Uint8Array, from: Address) => void
  readonly receive: Effect.Effect<Datagram, NetError>
  readonly subscribe: (handler: DatagramHandler) => void
  /** Tells the subscriber that a burst of datagrams is over (see `DatagramHandler.idle`). */
  readonly idle: () => void
  /** The socket is gone: receivers and the subscriber learn `error`; later datagrams are dropped. */
  readonly end: (error: NetError) => void
  /** Drops the queued datagrams (a crashed host loses its receive buffers). */
  readonly clear: () => void
}

/**
 * `afterBurst`, when given, is how the socket schedules the end of a burst: the
 * subscriber's `idle` runs once through it after one or more datagrams were delivered.
 * Without it the owner calls `idle` itself.
 */
export const makeDatagramInbox = (capacity: number, afterBurst?: (run: () => void) => void): DatagramInbox => {
  const inbox = makeInbox<Datagram, NetError>(capacity)
  let handler: DatagramHandler | undefined
  let idleScheduled = false
  const idle = () => {
    idleScheduled = false
    handler?.idle()
  }
  const deliver = (payload: Uint8Array, from: Address): void => {
    if (inbox.ended() !== undefined) return
    if (handler === undefined) {
      inbox.offer({ payload, from })
      return
    }
    handler.datagram(payload, from)
    if (afterBurst !== undefined && !idleScheduled) {
      idleScheduled = true
      afterBurst(idle)
    }
  }
  const subscribe = (h: DatagramHandler): void => {
    handler = h
    for (const d of inbox.drain()) h.datagram(d.payload, d.from)
    const error = inbox.ended()
    if (error !== undefined) h.end(error)
  }
  const end = (error: NetError): void => {
    if (inbox.ended() !== undefined) return
    inbox.end(error)
    handler?.end(error)
  }
  return { deliver, receive: inbox.take, subscribe, idle, end, clear: () => void inbox.drain() }
}
