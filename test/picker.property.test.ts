import { assert, describe, it } from "@effect/vitest"
import { PieceIndex } from "../src/ids.ts"
import { Result } from "effect"
import * as fc from "fast-check"
import { type Block, blocksInPiece, makeBitfield, makePicker, type Picker, pieceBlocks } from "../src/scheduler/index.ts"

/** Deterministic [0,1) stream from a seed (fast-check shrinks the seed, not the stream). */
const lcg = (seed: number) => {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

const make = (config: Parameters<typeof makePicker>[0]): Picker<string> => {
  const made = makePicker<string>(config)
  if (Result.isFailure(made)) throw new Error(made.failure)
  return made.success
}

const swarm = fc
  .record({
    pieceLength: fc.constantFrom(16384, 32768, 50000),
    pieceCount: fc.integer({ min: 1, max: 24 }),
    tailFraction: fc.double({ min: 0.01, max: 1, noNaN: true }),
    maxOpenPieces: fc.integer({ min: 1, max: 8 }),
    endgameMaxRequesters: fc.integer({ min: 2, max: 4 }),
    sequential: fc.boolean(),
    seed: fc.integer(),
    peers: fc.array(fc.oneof(fc.constant("seed" as const), fc.array(fc.boolean(), { maxLength: 24 })), {
      minLength: 1,
      maxLength: 6
    }),
    wanted: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    have: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    ops: fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.record({ t: fc.constant("pick" as const), peer: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }) },
        { weight: 5, arbitrary: fc.record({ t: fc.constant("recv" as const), peer: fc.nat(), which: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("timeout" as const), peer: fc.nat(), which: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("have" as const), peer: fc.nat(), piece: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("leave" as const), peer: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("choke" as const), peer: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("failNext" as const) }) },
        { weight: 1, arbitrary: fc.record({ t: fc.constant("sequential" as const), on: fc.boolean() }) }
      ),
      { maxLength: 150 }
    )
  })

type Swarm = typeof swarm extends fc.Arbitrary<infer A> ? A : never

/**
 * Drives the picker through a random swarm while keeping an independent model
 * of who has what in flight, then lets every peer reconnect and finishes the
 * download. Every answer of the picker is checked against the model.
 */
const simulate = (sw: Swarm) => {
  const { pieceLength, pieceCount } = sw
  const totalSize = (pieceCount - 1) * pieceLength + Math.max(1, Math.round(sw.tailFraction * pieceLength))
  const g = { pieceCount, pieceLength, totalSize }
  const wanted = sw.wanted.slice(0, pieceCount)
  if (!wanted.some((w, i) => w && !sw.have[i])) wanted[pieceCount - 1] = true
  const have = makeBitfield(pieceCount, (i) => sw.have[i] === true && i !== pieceCount - 1)
  const p = make({ ...g, wanted, have, maxOpenPieces: sw.maxOpenPieces, endgameMaxRequesters: sw.endgameMaxRequesters, sequential: sw.sequential })
  const random = lcg(sw.seed)

  const bits = new Map<string, Set<number> | "all">()
  const inflight = new Map<string, Set<string>>() // peer -> block ids
  const contributors = new Map<number, Set<string>>()
  const verified = new Set<number>()
  for (let i = 0; i < pieceCount; i++) if (sw.have[i] === true && i !== pieceCount - 1) verified.add(i)
  const id = (b: { piece: number; begin: number }) => `${b.piece}:${b.begin}`
  const peerHasPiece = (peer: string, piece: number) => {
    const b = bits.get(peer)
    return b === "all" || (b !== undefined && b.has(piece))
  }
  const connect = (peer: string, spec: "seed" | ReadonlyArray<boolean>) => {
    if (spec === "seed") {
      bits.set(peer, "all")
      p.peerHasAll(peer)
    } else {
      const set = new Set(spec.flatMap((h, i) => (h && i < pieceCount ? [i] : [])))
      bits.set(peer, set.size === pieceCount ? "all" : set)
      p.addPeer(peer, makeBitfield(pieceCount, (i) => set.has(i)))
    }
    inflight.set(peer, new Set())
  }
  const names = sw.peers.map((_, i) => `p${i}`)
  sw.peers.forEach((spec, i) => connect(`p${i}`, spec))
  let failNext = false
  let fails = 0

  const check = () => assert.strictEqual(p.checkInvariants(), null)
  const doPick = (peer: string, n: number) => {
    const got = p.pick(peer, n, random)
    assert.isAtMost(got.length, n)
    const mine = inflight.get(peer)
    if (mine === undefined) return assert.strictEqual(got.length, 0)
    assert.strictEqual(new Set(got.map(id)).size, got.length, "no block twice in one pick")
    for (const b of got) {
      assert.isTrue(peerHasPiece(peer, b.piece), "peer has the piece")
      assert.isTrue(wanted[b.piece], "piece is wanted")
      assert.isFalse(verified.has(b.piece), "piece not verified")
      assert.isTrue(pieceBlocks(g, b.piece).some((x) => x.begin === b.begin && x.length === b.length), "real block")
      assert.isFalse(mine.has(id(b)), "never the same block twice to one peer")
      const elsewhere = [...inflight.values()].some((s) => s.has(id(b)))
      if (elsewhere) assert.isTrue(p.inEndgame(), "duplicates only in endgame")
      mine.add(id(b))
    }
  }
  const receive = (peer: string, blockId: string) => {
    const [piece = -1, begin = -1] = blockId.split(":").map(Number)
    const length = pieceBlocks(g, piece).find((x) => x.begin === begin)?.length ?? -1
    const others = [...inflight].flatMap(([k, s]) => (k !== peer && s.has(blockId) ? [k] : []))
    const r = p.blockReceived(peer, PieceIndex(piece), begin, length)
    assert.strictEqual(r._tag, "Accepted", "an in-flight block is accepted")
    if (r._tag !== "Accepted") return
    assert.deepStrictEqual([...r.cancels].sort(), others.sort())
    for (const s of inflight.values()) s.delete(blockId)
    const c = contributors.get(piece) ?? new Set<string>()
    c.add(peer)
    contributors.set(piece, c)
    if (!r.pieceComplete) return
    if (failNext && fails < 5) {
      failNext = false
      fails++
      const blamed = p.pieceFailed(PieceIndex(piece))
      assert.deepStrictEqual([...blamed.contributors].sort(), [...c].sort())
      // every block was received, and its sender is one of them
      assert.deepStrictEqual([...new Set(blamed.senders)].sort(), [...c].sort())
      contributors.delete(piece)
    } else {
      const v = p.pieceVerified(PieceIndex(piece))
      assert.strictEqual(v.cancels.length, 0)
      verified.add(piece)
      contributors.delete(piece)
    }
  }
  const nth = <A>(xs: Iterable<A>, n: number): A | undefined => {
    const arr = [...xs]
    return arr.length === 0 ? undefined : arr[n % arr.length]
  }

  for (const op of sw.ops) {
    const peer = names[("peer" in op ? op.peer : 0) % names.length] ?? "p0"
    switch (op.t) {
      case "pick":
        doPick(peer, op.n)
        break
      case "recv": {
        const b = nth(inflight.get(peer) ?? [], op.which)
        if (b !== undefined) receive(peer, b)
        break
      }
      case "timeout": {
        const b = nth(inflight.get(peer) ?? [], op.which)
        if (b === undefined) break
        const [piece = -1, begin = -1] = b.split(":").map(Number)
        const length = pieceBlocks(g, piece).find((x) => x.begin === begin)?.length ?? -1
        assert.isTrue(p.requestTimedOut(peer, { piece: PieceIndex(piece), begin, length }))
        inflight.get(peer)?.delete(b)
        break
      }
      case "have": {
        const b = bits.get(peer)
        const piece = op.piece % pieceCount
        if (b === undefined || b === "all") break
        p.peerHas(peer, PieceIndex(piece))
        b.add(piece)
        if (b.size === pieceCount) bits.set(peer, "all")
        break
      }
      case "leave":
      case "choke": {
        const released = op.t === "leave" ? p.removePeer(peer) : p.peerChoked(peer)
        assert.deepStrictEqual(released.map(id).sort(), [...(inflight.get(peer) ?? [])].sort())
        if (op.t === "leave") {
          inflight.delete(peer)
          bits.delete(peer)
        } else inflight.set(peer, new Set())
        break
      }
      case "failNext":
        failNext = true
        break
      case "sequential":
        p.setSequential(op.on)
        break
    }
    check()
  }

  // Everyone comes back, plus a peer holding whatever nobody else has: the
  // download must now finish, every wanted block being requested from someone.
  sw.peers.forEach((spec, i) => {
    if (!inflight.has(`p${i}`)) connect(`p${i}`, spec)
  })
  names.push("finisher")
  const covered = (piece: number) => names.some((k) => peerHasPiece(k, piece))
  connect("finisher", Array.from({ length: pieceCount }, (_, i) => !covered(i)))
  failNext = false
  let rounds = 0
  while (!p.isComplete()) {
    assert.isBelow(rounds++, 1000, "download finishes")
    for (const k of names) doPick(k, 4)
    for (const k of names) for (const b of [...(inflight.get(k) ?? [])]) receive(k, b)
    check()
  }
  for (let i = 0; i < pieceCount; i++) {
    assert.strictEqual(verified.has(i), wanted[i] === true || sw.have[i] === true && i !== pieceCount - 1, `piece ${i}`)
  }
  assert.strictEqual(p.remainingWanted(), 0)
}

describe("picker properties", () => {
  it("random swarms: model agreement, no early duplicates, never a missing piece, always completes", () => {
    fc.assert(fc.property(swarm, simulate), { numRuns: 300 })
  })

  it("rarest first: with distinct availabilities pieces come out rarest to commonest", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }).chain((k) => fc.shuffledSubarray([...Array(k).keys()], { minLength: k })), fc.integer(), (perm, seed) => {
        const k = perm.length
        // piece j is held by peers 0..avail(j)-1, avail(j) = perm[j] + 1: all distinct
        const p = make({ pieceCount: k, pieceLength: 16384, totalSize: k * 16384, maxOpenPieces: 1 })
        for (let m = 0; m < k; m++) p.addPeer(`m${m}`, makeBitfield(k, (j) => (perm[j] ?? 0) >= m))
        const random = lcg(seed)
        const order: Array<number> = []
        for (let i = 0; i < k; i++) {
          const [b] = p.pick("m0", 1, random)
          if (b === undefined) return assert.fail("m0 has every piece")
          order.push(perm[b.piece] ?? -1)
          p.blockReceived("m0", b.piece, b.begin, b.length)
          p.pieceVerified(b.piece)
        }
        assert.deepStrictEqual(order, [...order].sort((a, b) => a - b))
      }),
      { numRuns: 200 }
    )
  })

  it("sequential mode: a peer's pieces come out in index order", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), fc.integer(), (has, seed) => {
        const n = has.length
        const p = make({ pieceCount: n, pieceLength: 32768, totalSize: n * 32768, sequential: true })
        p.addPeer("x", makeBitfield(n, (i) => i % 3 === 0)) // other availability must not matter
        p.addPeer("a", makeBitfield(n, (i) => has[i] === true))
        const random = lcg(seed)
        const got: Array<number> = []
        for (let b = p.pick("a", 3, random); b.length > 0; b = p.pick("a", 3, random)) {
          for (const x of b) {
            got.push(x.piece)
            const r = p.blockReceived("a", x.piece, x.begin, x.length)
            if (r._tag === "Accepted" && r.pieceComplete) p.pieceVerified(x.piece)
          }
        }
        const expected = has.flatMap((h, i) => (h ? [i, i] : []))
        assert.deepStrictEqual(got, expected)
      }),
      { numRuns: 200 }
    )
  })

  it("removePeer hands back exactly its blocks and they are picked again by others", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 64 }), fc.integer(), (n, want, seed) => {
        const g = { pieceCount: n, pieceLength: 65536, totalSize: n * 65536 }
        const p = make({ ...g, maxOpenPieces: 64 })
        p.peerHasAll("a")
        p.peerHasAll("b")
        const random = lcg(seed)
        const a = p.pick("a", want, random)
        const b = p.pick("b", want, random)
        const back = p.removePeer("a")
        const key = (x: Block) => `${x.piece}:${x.begin}`
        assert.deepStrictEqual(back.map(key).sort(), a.map(key).sort())
        const total = n * blocksInPiece(g, 0)
        const again = p.pick("b", total, random)
        assert.strictEqual(again.length + b.length, total, "b now gets every block but its own")
        assert.strictEqual(p.checkInvariants(), null)
      }),
      { numRuns: 200 }
    )
  })
})
