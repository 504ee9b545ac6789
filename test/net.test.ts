import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, Scope } from "effect"
import { TestClock, TestConsole } from "effect/testing"
import { spawn } from "node:child_process"
import { type Connection, Network, NodeNetwork, serve } from "../src/net/index.ts"
import { waitUntil } from "./support/waiting.ts"

const loopback = { host: "127.0.0.1", port: 0 }
const bytes = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)

/** Reads exactly `n` bytes (chunks may split anywhere), telling `progress` the count so far. */
const readN = (conn: Connection, n: number, progress: (got: number) => void = () => {}) =>
  Effect.gen(function*() {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const chunk = yield* conn.read
      assert.isTrue(chunk.length > 0 && got + chunk.length <= n, "read must return non-empty chunks within the stream")
      out.set(chunk, got)
      got += chunk.length
      progress(got)
    }
    return out
  })

const echoHandler = (conn: Connection) =>
  Effect.gen(function*() {
    while (true) yield* conn.write(yield* conn.read)
  }).pipe(Effect.catchTag("ConnectionClosed", () => Effect.void), Effect.orDie, Effect.ensuring(conn.close))

describe("NodeNetwork TCP", () => {
  it.live("echo, addresses and an ephemeral port", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      assert.strictEqual(listener.address.host, "127.0.0.1")
      assert.isAbove(listener.address.port, 0)
      yield* Effect.forkScoped(serve(listener, echoHandler))

      const conn = yield* net.connect(listener.address)
      assert.deepStrictEqual(conn.remote, listener.address)
      assert.strictEqual(conn.local.host, "127.0.0.1")
      assert.isAbove(conn.local.port, 0)
      yield* conn.write(bytes("hello"))
      assert.strictEqual(str(yield* readN(conn, 5)), "hello")
      // writeV: header and body go out back to back, in order
      yield* conn.writeV([bytes("head:"), bytes("body"), new Uint8Array(0), bytes("!")])
      assert.strictEqual(str(yield* readN(conn, 10)), "head:body!")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("clean EOF is ConnectionClosed, after all data", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      yield* Effect.forkScoped(serve(listener, (conn) =>
        conn.write(bytes("bye")).pipe(Effect.andThen(conn.close), Effect.orDie)))
      const conn = yield* net.connect(listener.address)
      assert.strictEqual(str(yield* readN(conn, 3)), "bye")
      const err = yield* Effect.flip(conn.read)
      assert.strictEqual(err._tag, "ConnectionClosed")
      assert.include(err.message, `127.0.0.1:${listener.address.port}`)
      // still closed on the next read
      assert.strictEqual((yield* Effect.flip(conn.read))._tag, "ConnectionClosed")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("close is idempotent; using a closed connection fails with ConnectionClosed", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const seenEof = yield* Deferred.make<string>()
      yield* Effect.forkScoped(serve(listener, (conn) =>
        conn.read.pipe(
          Effect.flatMap(() => conn.read),
          Effect.map((b) => `data ${b.length}`),
          Effect.catch((e) => Effect.succeed(e._tag)),
          Effect.flatMap((r) => Deferred.succeed(seenEof, r)),
          Effect.asVoid
        )))
      const conn = yield* net.connect(listener.address)
      yield* conn.write(bytes("x"))
      yield* conn.close
      yield* conn.close
      assert.strictEqual((yield* Effect.flip(conn.write(bytes("y"))))._tag, "ConnectionClosed")
      assert.strictEqual((yield* Effect.flip(conn.writeV([bytes("y")])))._tag, "ConnectionClosed")
      assert.strictEqual((yield* Effect.flip(conn.read))._tag, "ConnectionClosed")
      // the server saw our byte, then a clean EOF
      assert.strictEqual(yield* Deferred.await(seenEof), "ConnectionClosed")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("connecting to a closed port is ConnectRefused", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const port = yield* Effect.scoped(Effect.map(net.listen(loopback), (l) => l.address.port))
      const err = yield* Effect.flip(Effect.scoped(net.connect({ host: "127.0.0.1", port })))
      assert.strictEqual(err._tag, "ConnectRefused")
      assert.strictEqual(err.message, `connection refused by 127.0.0.1:${port}`)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("listening on a taken port is AddressInUse", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const first = yield* net.listen(loopback)
      const err = yield* Effect.flip(net.listen(first.address))
      assert.strictEqual(err._tag, "AddressInUse")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("writes apply backpressure until the peer reads (64 MiB)", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const chunk = 1 << 20
      const total = 64
      const conn = yield* net.connect(listener.address)
      const server = yield* listener.accept
      // For each completed write: how much the peer had read by then.
      let received = 0
      const readWhenWritten: Array<number> = []
      const writer = yield* Effect.forkChild(Effect.gen(function*() {
        for (let i = 0; i < total; i++) {
          yield* conn.write(new Uint8Array(chunk).fill(i % 251))
          readWhenWritten.push(received)
        }
      }))
      let expectedByte = 0
      while (received < chunk * total) {
        // The peer reads only once the send buffer is full (a write then has to wait) or the writer is done.
        yield* waitUntil("the send buffer to fill", () => !conn.offer([]) || readWhenWritten.length === total)
        const step = Math.min(received + 4 * chunk, chunk * total)
        while (received < step) {
          const b = yield* server.read
          for (let j = 0; j < b.length; j += 4093) {
            expectedByte = Math.floor((received + j) / chunk) % 251
            if (b[j] !== expectedByte) assert.fail(`byte ${received + j} is ${b[j]}, expected ${expectedByte}`)
          }
          received += b.length
        }
      }
      yield* Fiber.join(writer)
      assert.strictEqual(readWhenWritten.length, total)
      assert.strictEqual(received, chunk * total)
      // Kernel and Node buffers hold a few MiB: a write completes only once the peer has read all but that.
      const ahead = readWhenWritten.map((r, i) => (i + 1) * chunk - r)
      assert.isBelow(Math.max(...ahead), (total / 4) * chunk, `a write completed ${Math.max(...ahead) / chunk} MiB ahead of the reader`)
    }).pipe(Effect.provide(NodeNetwork.layer)), 30_000)

  it.live("offer takes bytes at once and says when to wait; drained waits until the peer reads", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const conn = yield* net.connect(listener.address)
      const server = yield* listener.accept
      assert.isTrue(conn.offer([bytes("head:"), bytes("body")]), "a small write fits the send buffer")
      assert.strictEqual(str(yield* readN(server, 9)), "head:body")
      // nobody reads: offers are taken, until the buffers are full and offer says so
      let offered = 0
      while (conn.offer([new Uint8Array(1 << 20).fill(offered % 251)])) {
        offered++
        assert.isBelow(offered, 256, "offer never reported a full send buffer")
      }
      offered++
      let readSoFar = 0
      const drained = yield* Effect.forkChild(conn.drained.pipe(Effect.map(() => readSoFar)))
      yield* Effect.yieldNow
      assert.isUndefined(drained.pollUnsafe(), "drained must wait while the peer does not read")
      const received = yield* Effect.forkChild(readN(server, offered << 20, (n) => { readSoFar = n }))
      // Room comes back only once the peer reads: not before its first read.
      assert.isAbove(yield* Fiber.join(drained), 0, "drained completed before the peer read anything")
      const all = yield* Fiber.join(received)
      for (let i = 0; i < offered; i++) assert.strictEqual(all[(i << 20) + 12345], i % 251, `MiB ${i} out of order`)
      // a closed connection takes nothing, and drained says why
      yield* conn.close
      assert.isFalse(conn.offer([bytes("late")]))
      assert.strictEqual((yield* Effect.flip(conn.drained))._tag, "ConnectionClosed")
    }).pipe(Effect.provide(NodeNetwork.layer)), 30_000)

  it.live("readable hands chunks over in order, stops when told, resumes with what waited, then reports EOF", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const conn = yield* net.connect(listener.address)
      const server = yield* listener.accept
      const total = 3 << 20
      const data = new Uint8Array(total).map((_, i) => (i * 7) % 251)
      // a read first (as the handshake does), then the rest through readable
      yield* server.write(data.subarray(0, 1000))
      const first = yield* conn.read
      yield* Effect.forkChild(Effect.andThen(server.write(data.subarray(first.length)), server.close))
      const got: Array<Uint8Array> = [first]
      let received = first.length
      let stops = 0
      const ended = yield* Deferred.make<string>()
      const onEnd = (e: { readonly _tag: string }) => void Deferred.doneUnsafe(ended, Effect.succeed(e._tag))
      const consumer = (chunk: Uint8Array): boolean => {
        got.push(chunk)
        received += chunk.length
        // stop after every MiB; re-armed on a later turn of the event loop, when more has piled up
        if (Math.floor(received / (1 << 20)) > Math.floor((received - chunk.length) / (1 << 20))) {
          stops++
          setImmediate(() => conn.readable(consumer, onEnd))
          return false
        }
        return true
      }
      conn.readable(consumer, onEnd)
      assert.strictEqual(yield* Deferred.await(ended), "ConnectionClosed")
      assert.isAtLeast(stops, 2)
      assert.strictEqual(received, total)
      assert.deepStrictEqual(Buffer.concat(got), Buffer.from(data))
    }).pipe(Effect.provide(NodeNetwork.layer)), 30_000)

  it.live("an outgoing connection lends a consumer that borrows its read buffer; a read's chunk stays its own", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const conn = yield* net.connect(listener.address)
      const server = yield* listener.accept
      const total = 1 << 20
      const data = new Uint8Array(total).map((_, i) => (i * 7) % 251)
      yield* server.write(data.subarray(0, 1000))
      const first = yield* conn.read
      const kept = first.slice()
      yield* Effect.forkChild(Effect.andThen(server.write(data.subarray(first.length)), server.close))
      // copies made during each call: a lent chunk is only valid until it returns
      const got: Array<Uint8Array> = [first]
      const lentBuffers = new Set<ArrayBufferLike>()
      let lentCalls = 0
      let stops = 0
      const ended = yield* Deferred.make<string>()
      const onEnd = (e: { readonly _tag: string }) => void Deferred.doneUnsafe(ended, Effect.succeed(e._tag))
      const consumer = (chunk: Uint8Array, lent?: boolean): boolean => {
        got.push(chunk.slice())
        if (lent === true) {
          lentCalls++
          lentBuffers.add(chunk.buffer)
        }
        // stop now and then: what arrives meanwhile waits, in order
        if (got.length % 5 === 0) {
          stops++
          setImmediate(() => conn.readable(consumer, onEnd, true))
          return false
        }
        return true
      }
      conn.readable(consumer, onEnd, true)
      assert.strictEqual(yield* Deferred.await(ended), "ConnectionClosed")
      assert.isAbove(lentCalls, 1)
      assert.strictEqual(lentBuffers.size, 1, "one read buffer, reused")
      assert.isAbove(stops, 0)
      assert.deepStrictEqual(Buffer.concat(got), Buffer.from(data))
      // the one-shot read got a chunk of its own, untouched by the reads after it
      assert.deepStrictEqual(first, kept)
    }).pipe(Effect.provide(NodeNetwork.layer)), 30_000)

  it.live("readable on a connection the peer resets reports the reset; on one we closed, ConnectionClosed", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const conn = yield* net.connect(listener.address)
      const server = yield* listener.accept
      const ended = yield* Deferred.make<string>()
      conn.readable(() => true, (e) => void Deferred.doneUnsafe(ended, Effect.succeed(e._tag)))
      // a reset: the peer's socket is destroyed with data unread on its side (it read the first chunk of 1 MiB)
      conn.offer([new Uint8Array(1 << 20)])
      yield* server.read
      yield* server.close
      const tag = yield* Deferred.await(ended)
      assert.include(["ConnectionReset", "ConnectionClosed"], tag)
      const other = yield* net.connect(listener.address)
      yield* other.close
      const closed = yield* Deferred.make<string>()
      other.readable(() => true, (e) => void Deferred.doneUnsafe(closed, Effect.succeed(e._tag)))
      assert.strictEqual(yield* Deferred.await(closed), "ConnectionClosed")
    }).pipe(Effect.provide(NodeNetwork.layer)), 30_000)

  it.effect("a handler defect is logged and does not stop the listener", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen(loopback)
      const count = yield* Ref.make(0)
      yield* Effect.forkScoped(serve(listener, (conn) =>
        Effect.gen(function*() {
          const n = yield* Ref.getAndUpdate(count, (x) => x + 1)
          if (n === 0) return yield* Effect.die("boom")
          yield* echoHandler(conn)
        })))
      const first = yield* Effect.scoped(Effect.flatMap(net.connect(listener.address), (c) => Effect.flip(c.read)))
      // the first handler died: its connection was closed, not leaked
      assert.include(["ConnectionClosed", "ConnectionReset"], first._tag)
      const second = yield* net.connect(listener.address)
      yield* second.write(bytes("still up"))
      assert.strictEqual(str(yield* readN(second, 8)), "still up")
      const logged = (yield* TestConsole.errorLines).concat(yield* TestConsole.logLines).map(String).join("\n")
      assert.include(logged, "connection handler died")
      assert.include(logged, "boom")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a pending accept fails once the listener's scope is closed", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const scope = yield* Scope.make()
      const listener = yield* net.listen(loopback).pipe(Scope.provide(scope))
      const pending = yield* Effect.forkChild(Effect.scoped(listener.accept))
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      const err = yield* Effect.flip(Fiber.join(pending))
      assert.strictEqual(err.message, `accept 127.0.0.1:${listener.address.port} failed: listener closed`)
      // and the port is free again
      const again = yield* Effect.flip(Effect.scoped(net.connect(listener.address)))
      assert.strictEqual(again._tag, "ConnectRefused")
    }).pipe(Effect.provide(NodeNetwork.layer)))
})

/**
 * A listener that never accepts: a child Node process listens with backlog 1
 * and then blocks its event loop. Once the kernel's accept queue is full,
 * Linux drops further SYNs, so a connect stays pending: exactly the situation
 * a connect timeout is for, and it stays on 127.0.0.1.
 */
const stuckListener = Effect.acquireRelease(
  Effect.callback<{ port: number; kill: () => void }>((resume) => {
    const child = spawn(process.execPath, [
      "-e",
      `const s = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
        process.stdout.write(s.address().port + "\\n")
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
      })`
    ], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout.once("data", (d) => resume(Effect.succeed({ port: Number(String(d).trim()), kill: () => child.kill("SIGKILL") })))
  }),
  (l) => Effect.sync(() => l.kill())
)

describe("NodeNetwork connect timeout", () => {
  it.effect("a connect that never completes fails with ConnectTimeout on Effect's clock", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const { port } = yield* TestClock.withLive(stuckListener)
      // Fill the accept queue (real time): connects succeed until the kernel starts dropping SYNs.
      let pendingSeen = false
      for (let i = 0; i < 10 && !pendingSeen; i++) {
        const r = yield* TestClock.withLive(Effect.result(net.connect({ host: "127.0.0.1", port }, { timeout: "300 millis" })))
        if (r._tag === "Failure") {
          assert.strictEqual(r.failure._tag, "ConnectTimeout")
          pendingSeen = true
        }
      }
      assert.isTrue(pendingSeen, "the accept queue never filled up")
      // Now on virtual time: nothing happens for 9.9 s, the default 10 s timeout then fires.
      const fiber = yield* Effect.forkChild(Effect.scoped(net.connect({ host: "127.0.0.1", port })))
      yield* TestClock.adjust("9900 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("100 millis")
      const err = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(err._tag, "ConnectTimeout")
      assert.strictEqual(err.message, `connecting to 127.0.0.1:${port} timed out after 10000 ms`)
    }).pipe(Effect.provide(NodeNetwork.layer)))
})

describe("NodeNetwork UDP", () => {
  it.live("round trip between two ephemeral sockets", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const a = yield* net.udp(loopback)
      const b = yield* net.udp(loopback)
      assert.isAbove(a.address.port, 0)
      assert.notStrictEqual(a.address.port, b.address.port)
      yield* a.send(bytes("ping"), b.address)
      const got = yield* b.receive
      assert.strictEqual(str(got.payload), "ping")
      assert.deepStrictEqual(got.from, a.address)
      yield* b.send(bytes("pong"), got.from)
      yield* b.send(bytes("pong2"), { host: "localhost", port: a.address.port })
      const back = yield* a.receive
      assert.strictEqual(str(back.payload), "pong")
      assert.strictEqual(str((yield* a.receive).payload), "pong2")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("subscribe: datagrams go to the handler as they arrive, then one idle per burst; sendNow needs no fiber", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const a = yield* net.udp(loopback)
      const b = yield* net.udp(loopback)
      const events: Array<string> = []
      const done = yield* Deferred.make<void>()
      b.subscribe({
        datagram: (payload, from) => {
          events.push(`${str(payload)}@${from.port === a.address.port}`)
        },
        idle: () => {
          events.push("idle")
          if (events.filter((e) => e !== "idle").length === 3) Deferred.doneUnsafe(done, Effect.void)
        },
        end: () => {}
      })
      for (const m of ["one", "two", "three"]) assert.isTrue(a.sendNow(bytes(m), b.address))
      yield* Deferred.await(done)
      assert.deepStrictEqual(events.filter((e) => e !== "idle"), ["one@true", "two@true", "three@true"])
      assert.strictEqual(events.at(-1), "idle")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("binding a taken UDP port is AddressInUse", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const a = yield* net.udp(loopback)
      const err = yield* Effect.flip(net.udp(a.address))
      assert.strictEqual(err._tag, "AddressInUse")
    }).pipe(Effect.provide(NodeNetwork.layer)))
})
