/** The pure metadata assembly (src/magnet/assembly.ts): examples and properties. */
import { bytesEqual } from "../src/bytes.ts"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  addPeer,
  type Assembly,
  banPeer,
  expiredPeers,
  makeAssembly,
  onData,
  onReject,
  pieceLength,
  progress,
  removePeer,
  schedule
} from "../src/magnet/assembly.ts"

const KiB16 = 16384
const MAX = 16 * 1024 * 1024

const metadataOf = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}


const assemblyFor = (truth: Uint8Array, options: { perPeer?: number; max?: number } = {}) =>
  makeAssembly({ maxMetadataSize: options.max ?? MAX, perPeer: options.perPeer ?? 2, verify: (m) => bytesEqual(m, truth) })

const slice = (truth: Uint8Array, piece: number) => truth.subarray(piece * KiB16, piece * KiB16 + pieceLength(truth.length, piece))

/** Every invariant listed in assembly.ts. */
const checkInvariants = (a: Assembly) => {
  const count = a.size === undefined ? 0 : Math.ceil(a.size / KiB16)
  assert.strictEqual(a.pieces.length, count)
  assert.isAtMost(a.pieces.length, Math.ceil(a.options.maxMetadataSize / KiB16))
  let received = 0
  a.pieces.forEach((p, i) => {
    if (p === undefined) return
    assert.strictEqual(p.length, pieceLength(a.size ?? 0, i))
    assert.isDefined(a.from[i])
    received += p.length
  })
  assert.strictEqual(a.received, received)
  for (const [piece, r] of a.requests) {
    const peer = a.peers.get(r.peer)
    assert.isDefined(peer, `request ${piece} to a missing peer`)
    assert.isTrue(peer?.inflight.has(piece))
    assert.strictEqual(peer?.size, a.size)
    assert.isUndefined(a.pieces[piece])
    assert.isFalse(peer?.rejected.has(piece))
  }
  for (const [key, peer] of a.peers) {
    assert.isFalse(a.banned.has(key))
    assert.isAtMost(peer.inflight.size, a.options.perPeer)
    for (const piece of peer.inflight) assert.strictEqual(a.requests.get(piece)?.peer, key)
  }
}

describe("metadata assembly: examples", () => {
  it("one peer: requests go out perPeer at a time, pieces are assembled in order", () => {
    const truth = metadataOf(40_000)
    const a = assemblyFor(truth)
    assert.deepStrictEqual(addPeer(a, "A", 40_000), { _tag: "Added" })
    assert.deepStrictEqual(schedule(a, 0), [{ peer: "A", piece: 0 }, { peer: "A", piece: 1 }])
    assert.deepStrictEqual(schedule(a, 0), [])
    assert.deepStrictEqual(onData(a, "A", 1, 40_000, slice(truth, 1)), { _tag: "Stored" })
    assert.deepStrictEqual(schedule(a, 1), [{ peer: "A", piece: 2 }])
    assert.deepStrictEqual(progress(a), { peers: 1, received: KiB16, total: 40_000 })
    assert.deepStrictEqual(onData(a, "A", 2, 40_000, slice(truth, 2)), { _tag: "Stored" })
    const done = onData(a, "A", 0, 40_000, slice(truth, 0))
    assert.strictEqual(done._tag, "Complete")
    if (done._tag === "Complete") assert.isTrue(bytesEqual(done.metadata, truth))
    checkInvariants(a)
  })

  it("pieces spread over peers: the peer with the fewest requests out gets the next one", () => {
    const a = assemblyFor(metadataOf(4 * KiB16))
    addPeer(a, "A", 4 * KiB16)
    addPeer(a, "B", 4 * KiB16)
    assert.deepStrictEqual(schedule(a, 0).map((r) => `${r.peer}${r.piece}`), ["A0", "B1", "A2", "B3"])
  })

  it("metadata_size missing, zero, negative, fractional or above the cap is refused before anything is allocated", () => {
    const a = assemblyFor(metadataOf(10), { max: 1_000_000 })
    for (const size of [undefined, 0, -1, 1.5, 1_000_001, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const r = addPeer(a, `P${size}`, size)
      assert.strictEqual(r._tag, "Refused", String(size))
    }
    const big = addPeer(a, "huge", 2 ** 40)
    assert.deepStrictEqual(big, { _tag: "Refused", reason: "metadata_size 1099511627776 is above the limit of 1000000 bytes" })
    assert.deepStrictEqual(schedule(a, 0), [])
    assert.strictEqual(a.pieces.length, 0)
    assert.isUndefined(a.size)
  })

  it("a peer announcing another size waits; it is used once the first size failed the hash", () => {
    const truth = metadataOf(20_000)
    const a = assemblyFor(truth)
    addPeer(a, "liar", 30_000)
    addPeer(a, "honest", 20_000)
    assert.deepStrictEqual(schedule(a, 0), [{ peer: "liar", piece: 0 }, { peer: "liar", piece: 1 }])
    onData(a, "liar", 0, 30_000, new Uint8Array(KiB16))
    const r = onData(a, "liar", 1, 30_000, new Uint8Array(30_000 - KiB16))
    assert.deepStrictEqual(r, { _tag: "HashMismatch", contributors: ["liar"], banned: ["liar"] })
    checkInvariants(a)
    assert.deepStrictEqual(schedule(a, 0), [{ peer: "honest", piece: 0 }, { peer: "honest", piece: 1 }])
    assert.strictEqual(a.size, 20_000)
    onData(a, "honest", 0, 20_000, slice(truth, 0))
    assert.strictEqual(onData(a, "honest", 1, 20_000, slice(truth, 1))._tag, "Complete")
    assert.deepStrictEqual(addPeer(a, "liar", 20_000), { _tag: "Refused", reason: "banned earlier in this fetch" })
  })

  it("hash mismatch from several peers: all discarded, nobody banned, then one peer at a time until the liar is named", () => {
    const truth = metadataOf(3 * KiB16)
    const a = assemblyFor(truth, { perPeer: 1 })
    for (const k of ["L", "H1", "H2"]) addPeer(a, k, truth.length)
    assert.deepStrictEqual(schedule(a, 0).map((r) => `${r.peer}${r.piece}`), ["L0", "H11", "H22"])
    onData(a, "L", 0, truth.length, new Uint8Array(KiB16)) // forged
    onData(a, "H1", 1, truth.length, slice(truth, 1))
    const mixed = onData(a, "H2", 2, truth.length, slice(truth, 2))
    assert.deepStrictEqual(mixed, { _tag: "HashMismatch", contributors: ["L", "H1", "H2"], banned: [] })
    assert.strictEqual(a.received, 0)
    assert.strictEqual(a.peers.size, 3)
    checkInvariants(a)
    // Single-source: everything from L now, one request at a time (perPeer 1).
    for (const piece of [0, 1, 2]) {
      assert.deepStrictEqual(schedule(a, 1), [{ peer: "L", piece }])
      const r = onData(a, "L", piece, truth.length, new Uint8Array(pieceLength(truth.length, piece)))
      if (piece < 2) assert.deepStrictEqual(r, { _tag: "Stored" })
      else assert.deepStrictEqual(r, { _tag: "HashMismatch", contributors: ["L"], banned: ["L"] })
    }
    assert.isTrue(a.banned.has("L"))
    // H1 is solo now; when it leaves half-way, what it sent is dropped and H2 starts afresh.
    assert.deepStrictEqual(schedule(a, 2), [{ peer: "H1", piece: 0 }])
    onData(a, "H1", 0, truth.length, slice(truth, 0))
    schedule(a, 2)
    removePeer(a, "H1")
    assert.strictEqual(a.received, 0)
    checkInvariants(a)
    for (const piece of [0, 1, 2]) {
      assert.deepStrictEqual(schedule(a, 3), [{ peer: "H2", piece }])
      const r = onData(a, "H2", piece, truth.length, slice(truth, piece))
      assert.strictEqual(r._tag, piece < 2 ? "Stored" : "Complete")
    }
    assert.deepStrictEqual([...a.banned], ["L"])
  })

  it("BEP 9 violations ban the peer and drop what it sent before", () => {
    const truth = metadataOf(2 * KiB16 + 5)
    const a = assemblyFor(truth)
    addPeer(a, "A", truth.length)
    addPeer(a, "B", truth.length)
    schedule(a, 0) // A0 B1 A2
    assert.deepStrictEqual(onData(a, "A", 0, truth.length, slice(truth, 0)), { _tag: "Stored" })
    const wrongTotal = onData(a, "A", 2, truth.length + 1, slice(truth, 2))
    assert.deepStrictEqual(wrongTotal, { _tag: "Violation", reason: `total_size ${truth.length + 1} differs from the metadata_size ${truth.length} it announced` })
    assert.strictEqual(a.received, 0)
    assert.isTrue(a.banned.has("A"))
    const short = onData(a, "B", 1, truth.length, new Uint8Array(100))
    assert.deepStrictEqual(short, { _tag: "Violation", reason: "metadata piece 1 has 100 bytes, expected 16384" })
    checkInvariants(a)
  })

  it("answers nobody asked for are ignored (unsolicited piece, other peer's piece, removed peer)", () => {
    const truth = metadataOf(3 * KiB16)
    const a = assemblyFor(truth, { perPeer: 1 })
    addPeer(a, "A", truth.length)
    addPeer(a, "B", truth.length)
    schedule(a, 0) // A0 B1
    assert.deepStrictEqual(onData(a, "A", 2, truth.length, slice(truth, 2)), { _tag: "Ignored" })
    assert.deepStrictEqual(onData(a, "A", 1, truth.length, slice(truth, 1)), { _tag: "Ignored" })
    assert.deepStrictEqual(onData(a, "Z", 0, truth.length, slice(truth, 0)), { _tag: "Ignored" })
    removePeer(a, "A")
    assert.deepStrictEqual(onData(a, "A", 0, truth.length, slice(truth, 0)), { _tag: "Ignored" })
    assert.strictEqual(a.received, 0)
    assert.deepStrictEqual(schedule(a, 0), [])
    checkInvariants(a)
  })

  it("a rejected piece goes to another peer; a peer that rejected everything missing is useless", () => {
    const truth = metadataOf(2 * KiB16)
    const a = assemblyFor(truth, { perPeer: 1 })
    addPeer(a, "A", truth.length)
    addPeer(a, "B", truth.length)
    assert.deepStrictEqual(schedule(a, 0).map((r) => `${r.peer}${r.piece}`), ["A0", "B1"])
    assert.deepStrictEqual(onReject(a, "A", 0), { _tag: "Rejected", useless: false })
    assert.deepStrictEqual(schedule(a, 0), [])
    onData(a, "B", 1, truth.length, slice(truth, 1))
    assert.deepStrictEqual(schedule(a, 0), [{ peer: "B", piece: 0 }])
    assert.deepStrictEqual(onReject(a, "B", 0), { _tag: "Rejected", useless: true })
    assert.deepStrictEqual(onReject(a, "B", 0), { _tag: "Ignored" })
    checkInvariants(a)
  })

  it("requests older than the timeout name their peer; removing it frees them for others", () => {
    const a = assemblyFor(metadataOf(2 * KiB16), { perPeer: 1 })
    addPeer(a, "A", 2 * KiB16)
    schedule(a, 1000)
    addPeer(a, "B", 2 * KiB16)
    schedule(a, 5000)
    assert.deepStrictEqual(expiredPeers(a, 10_999, 10_000), [])
    assert.deepStrictEqual(expiredPeers(a, 11_000, 10_000), ["A"])
    removePeer(a, "A")
    assert.deepStrictEqual(schedule(a, 11_000), [])
    banPeer(a, "B")
    addPeer(a, "C", 2 * KiB16)
    assert.deepStrictEqual(schedule(a, 11_000).map((r) => r.peer), ["C"])
    checkInvariants(a)
  })
})

type Kind = "honest" | "liar" | "rejecter" | "wrongSize" | "silent"

const peerKinds = fc.array(fc.constantFrom<Kind>("honest", "liar", "rejecter", "wrongSize", "silent"), { minLength: 1, maxLength: 6 })

/**
 * Drives an assembly with simulated peers: each step picks an outstanding request (or a
 * peer to drop) with the random choices given, and the chosen peer answers as its kind does.
 */
const simulate = (truth: Uint8Array, kinds: ReadonlyArray<Kind>, choices: ReadonlyArray<number>, perPeer: number) => {
  const a = assemblyFor(truth, { perPeer })
  const kindOf = new Map<string, Kind>()
  const mismatches: Array<{ readonly contributors: ReadonlyArray<string>; readonly banned: ReadonlyArray<string> }> = []
  kinds.forEach((kind, i) => {
    const key = `${kind}${i}`
    kindOf.set(key, kind)
    addPeer(a, key, kind === "wrongSize" ? truth.length + 1 : truth.length)
  })
  let now = 0
  let metadata: Uint8Array | undefined
  for (const choice of choices) {
    schedule(a, now++)
    checkInvariants(a)
    const outstanding = [...a.requests]
    if (outstanding.length === 0) break
    const pick = outstanding[choice % outstanding.length]
    if (pick === undefined) break
    const [piece, { peer }] = pick
    const size = a.peers.get(peer)?.size ?? 0
    switch (kindOf.get(peer)) {
      case "honest":
        break
      case "silent":
        removePeer(a, peer) // its request timed out
        continue
      case "rejecter": {
        const r = onReject(a, peer, piece)
        // The fetcher drops a peer that rejected everything missing; sometimes it just leaves.
        if (r._tag === "Rejected" && (r.useless || choice % 3 === 0)) removePeer(a, peer)
        continue
      }
      case "liar": {
        const forged = slice(truth, piece).slice()
        forged[choice % forged.length] = (forged[choice % forged.length] ?? 0) ^ 0xff
        const r = onData(a, peer, piece, size, forged)
        if (r._tag === "HashMismatch") mismatches.push(r)
        continue
      }
      case "wrongSize":
        onData(a, peer, piece, size, new Uint8Array(pieceLength(size, piece)))
        continue
    }
    const r = onData(a, peer, piece, size, slice(truth, piece))
    if (r._tag === "HashMismatch") mismatches.push(r)
    if (r._tag === "Complete") {
      metadata = r.metadata
      break
    }
  }
  checkInvariants(a)
  return { a, kindOf, mismatches, metadata }
}

describe("metadata assembly: properties", () => {
  it("whatever the peers do: invariants hold, only the true metadata completes, only liars are banned", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 * KiB16 }),
        peerKinds,
        fc.array(fc.nat(), { maxLength: 200 }),
        fc.integer({ min: 1, max: 4 }),
        (size, kinds, choices, perPeer) => {
          const truth = metadataOf(size, size)
          const { a, kindOf, mismatches, metadata } = simulate(truth, kinds, choices, perPeer)
          if (metadata !== undefined) assert.isTrue(bytesEqual(metadata, truth))
          for (const m of mismatches) {
            assert.isTrue(m.contributors.some((k) => kindOf.get(k) === "liar"), m.contributors.join())
            assert.isTrue(m.banned.length === 0 || (m.contributors.length === 1 && m.banned[0] === m.contributors[0]))
          }
          for (const k of a.banned) assert.notStrictEqual(kindOf.get(k), "honest", k)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("one honest peer among liars, rejecters, silent and wrong-size peers: the fetch completes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 * KiB16 }),
        fc.array(fc.constantFrom<Kind>("liar", "silent", "rejecter", "wrongSize"), { maxLength: 5 }),
        fc.nat(5),
        fc.array(fc.nat(), { minLength: 300, maxLength: 300 }),
        (size, others, at, choices) => {
          const truth = metadataOf(size, 7)
          const kinds = [...others]
          kinds.splice(at % (others.length + 1), 0, "honest")
          const { metadata, a, kindOf } = simulate(truth, kinds, [...choices, ...new Array<number>(2000).fill(0)], 2)
          assert.isDefined(metadata, kinds.join())
          for (const k of a.banned) assert.notStrictEqual(kindOf.get(k), "honest")
        }
      ),
      { numRuns: 200 }
    )
  })

  it("arbitrary messages never throw, never store a wrong-length piece, never allocate past the cap", () => {
    const event = fc.oneof(
      fc.record({ t: fc.constant("add" as const), peer: fc.nat(4), size: fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constant(2 ** 50)) }),
      fc.record({ t: fc.constant("data" as const), peer: fc.nat(4), piece: fc.integer({ min: -1, max: 6 }), total: fc.integer({ min: -1, max: 70_000 }), length: fc.nat(20_000) }),
      fc.record({ t: fc.constant("reject" as const), peer: fc.nat(4), piece: fc.integer({ min: -1, max: 6 }) }),
      fc.record({ t: fc.constant("remove" as const), peer: fc.nat(4) }),
      fc.record({ t: fc.constant("schedule" as const), now: fc.nat(100) }),
      // An answer to an outstanding request, its total_size and length off by a little or not at all
      fc.record({ t: fc.constant("answer" as const), which: fc.nat(), dTotal: fc.integer({ min: -1, max: 1 }), dLength: fc.integer({ min: -2, max: 2 }) })
    )
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const a = makeAssembly({ maxMetadataSize: 65_536, perPeer: 2, verify: () => false })
        for (const e of events) {
          const key = `p${"peer" in e ? e.peer : 0}`
          if (e.t === "add") addPeer(a, key, e.size)
          else if (e.t === "data") onData(a, key, e.piece, e.total, new Uint8Array(e.length))
          else if (e.t === "reject") onReject(a, key, e.piece)
          else if (e.t === "remove") removePeer(a, key)
          else if (e.t === "schedule") schedule(a, e.now)
          else {
            const outstanding = [...a.requests]
            const pick = outstanding[e.which % Math.max(1, outstanding.length)]
            if (pick === undefined || a.size === undefined) continue
            const length = Math.max(0, pieceLength(a.size, pick[0]) + e.dLength)
            onData(a, pick[1].peer, pick[0], a.size + e.dTotal, new Uint8Array(length))
          }
          checkInvariants(a)
        }
      }),
      { numRuns: 500 }
    )
  })
})
