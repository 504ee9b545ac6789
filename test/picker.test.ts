import { assert, describe, it } from "@effect/vitest"
import { PieceIndex } from "../src/ids.ts"
import { Result } from "effect"
import {
  type Block,
  BLOCK_SIZE,
  blockLength,
  blocksInPiece,
  makeBitfield,
  makePicker,
  type Picker,
  type PickerConfig,
  pieceBlocks,
  wantedPiecesFromFiles
} from "../src/scheduler/index.ts"

const KiB = 1024
const MiB = 1024 * KiB

const picker = (config: PickerConfig): Picker<string> => {
  const made = makePicker<string>(config)
  if (Result.isFailure(made)) throw new Error(made.failure)
  return made.success
}

/** A deterministic "random" source for unit tests. */
const seq = (...xs: Array<number>) => {
  let i = 0
  return () => xs[i++ % xs.length] ?? 0
}

const bits = (count: number, pieces: ReadonlyArray<number>) => makeBitfield(count, (i) => pieces.includes(i))
const all = (count: number) => makeBitfield(count, () => true)
const ok = (p: Picker<string>) => assert.strictEqual(p.checkInvariants(), null)

/** Receive every block of `blocks` from `peer` and verify completed pieces. */
const deliver = (p: Picker<string>, peer: string, blocks: ReadonlyArray<Block>) => {
  for (const b of blocks) {
    const r = p.blockReceived(peer, b.piece, b.begin, b.length)
    if (r._tag === "Accepted" && r.pieceComplete) p.pieceVerified(b.piece)
  }
}

describe("geometry", () => {
  it("last piece and last block are shorter", () => {
    const g = { pieceCount: 3, pieceLength: 64 * KiB, totalSize: 2 * 64 * KiB + 20000 }
    assert.strictEqual(blocksInPiece(g, 0), 4)
    assert.strictEqual(blocksInPiece(g, 2), 2)
    assert.strictEqual(blockLength(g, 2, 0), BLOCK_SIZE)
    assert.strictEqual(blockLength(g, 2, 1), 20000 - BLOCK_SIZE)
    assert.deepStrictEqual(pieceBlocks(g, 2).map((b) => b.begin), [0, BLOCK_SIZE])
  })

  it("wantedPiecesFromFiles: shared boundary pieces are wanted, padding and skipped files are not", () => {
    const L = 100
    const files = [
      { offset: 0, length: 250, padding: false }, // pieces 0..2
      { offset: 250, length: 50, padding: true }, // pad to 300
      { offset: 300, length: 150, padding: false }, // pieces 3..4 (ends at 450, mid piece 4)
      { offset: 450, length: 200, padding: false } // pieces 4..6
    ]
    assert.deepStrictEqual(wantedPiecesFromFiles(files, L, 7, [1, 1, 0, 1]), [true, true, true, false, true, true, true])
    assert.deepStrictEqual(wantedPiecesFromFiles(files, L, 7, [0, 1, 1, 0]), [false, false, false, true, true, false, false])
    // padding never makes a piece wanted, even with a priority
    assert.deepStrictEqual(wantedPiecesFromFiles(files, L, 7, [0, 7, 0, 0]), new Array(7).fill(false))
    // files without a priority entry are wanted
    assert.deepStrictEqual(wantedPiecesFromFiles(files, L, 7, []), new Array(7).fill(true))
  })

  it("rejects inconsistent geometry and wanted lists", () => {
    assert.isTrue(Result.isFailure(makePicker({ pieceCount: 2, pieceLength: 100, totalSize: 300 })))
    assert.isTrue(Result.isFailure(makePicker({ pieceCount: 0, pieceLength: 0, totalSize: 0 })))
    assert.isTrue(Result.isFailure(makePicker({ pieceCount: 3, pieceLength: 100, totalSize: 300, wanted: [true] })))
    assert.isTrue(Result.isSuccess(makePicker({ pieceCount: 3, pieceLength: 100, totalSize: 300 })))
  })
})

describe("picker", () => {
  const cfg = (n: number, extra: Partial<PickerConfig> = {}): PickerConfig => ({
    pieceCount: n,
    pieceLength: 2 * BLOCK_SIZE,
    totalSize: n * 2 * BLOCK_SIZE,
    ...extra
  })

  it("rarest first: with distinct availabilities the rarest piece the peer has comes first", () => {
    const p = picker(cfg(4))
    // availability: piece 0 -> 4 peers, 1 -> 3, 2 -> 1 (only "a"), 3 -> 2
    p.addPeer("a", bits(4, [0, 1, 2, 3]))
    p.addPeer("b", bits(4, [0, 1, 3]))
    p.addPeer("c", bits(4, [0, 1]))
    p.addPeer("d", bits(4, [0]))
    const order: Array<number> = []
    for (let i = 0; i < 4; i++) {
      const got = p.pick("a", 2, seq(0.5))
      order.push(...new Set(got.map((b) => b.piece)))
      deliver(p, "a", got)
    }
    assert.deepStrictEqual(order, [2, 3, 1, 0])
    ok(p)
  })

  it("rarest first works the same through the sparse-peer path", () => {
    const p = picker(cfg(64))
    for (let i = 0; i < 5; i++) p.addPeer(`x${i}`, makeBitfield(64, (j) => j >= 10 * i))
    // "few" has 3 pieces: 5 (then 2 peers have it), 15 (3), 63 (6); scanning its bitfield must find 5
    p.addPeer("few", bits(64, [63, 15, 5]))
    assert.deepStrictEqual([...new Set(p.pick("few", 2, seq(0.9)).map((b) => b.piece))], [5])
    ok(p)
  })

  it("random tie-break spreads first picks over equally rare pieces", () => {
    const p = picker(cfg(16, { maxOpenPieces: 100 }))
    p.addPeer("s", all(16))
    let x = 0.123
    const rnd = () => (x = (x * 9301 + 0.49297) % 1)
    const firsts = new Set<number>()
    for (let i = 0; i < 16; i++) firsts.add(p.pick("s", 2, rnd)[0]?.piece ?? -1)
    assert.strictEqual(firsts.size, 16)
    assert.isTrue([...firsts].some((piece, i) => piece !== i), "not simply in index order")
  })

  it("from a non-seed, equally rare pieces stay a random draw", () => {
    const p = picker(cfg(16, { maxOpenPieces: 100 }))
    p.addPeer("x", makeBitfield(16, (i) => i < 15))
    p.addPeer("y", bits(16, [15]))
    // every piece has one holder; the bucket is 0..15 in order, opening 0 moves 15 into its
    // place, and the second draw (half way) lands on 7, where a run would have taken 1
    const order: Array<number> = []
    for (const r of [0, 0.5]) order.push(...new Set(p.pick("x", 2, seq(r)).map((b) => b.piece)))
    assert.deepStrictEqual(order, [0, 7])
    ok(p)
  })

  it("among equally rare pieces a seed's run in index order from a random start", () => {
    const p = picker(cfg(16, { maxOpenPieces: 100 }))
    p.addPeer("s", all(16))
    // the first pick draws piece 10 (0.65 of 16); its successors follow without a draw
    const order: Array<number> = []
    for (let i = 0; i < 8; i++) order.push(...new Set(p.pick("s", 2, seq(0.65, 0)).map((b) => b.piece)))
    // 15 is the last piece: the next start is drawn again, among what is left (0..9)
    assert.deepStrictEqual(order, [10, 11, 12, 13, 14, 15, 6, 7])
    // a second peer starts its own run; one that reaches a taken piece draws a new start
    p.addPeer("t", all(16))
    assert.deepStrictEqual([...new Set(p.pick("t", 4, seq(0)).map((b) => b.piece))], [0, 1])
    assert.deepStrictEqual([...new Set(p.pick("t", 8, seq(0)).map((b) => b.piece))], [2, 3, 4, 5])
    const next = [...new Set(p.pick("t", 2, seq(0)).map((b) => b.piece))]
    assert.notDeepEqual(next, [6], "6 is open (taken by s)")
    ok(p)
  })

  it("the run yields to a rarer piece: rarest first still decides across availabilities", () => {
    const p = picker(cfg(3, { maxOpenPieces: 100 }))
    // "a" is a seed; "b" and "c" make piece 1 commoner than 0 and 2
    p.addPeer("a", bits(3, [0, 1, 2]))
    p.addPeer("b", bits(3, [1]))
    p.addPeer("c", bits(3, [1]))
    const order: Array<number> = []
    for (let i = 0; i < 3; i++) order.push(...new Set(p.pick("a", 2, seq(0)).map((b) => b.piece)))
    // 1 follows 0 in index order, but 2 is rarer
    assert.deepStrictEqual(order, [0, 2, 1])
    ok(p)
  })

  it("sequential mode picks pieces in index order", () => {
    const p = picker(cfg(6, { sequential: true }))
    p.addPeer("a", bits(6, [1, 2, 4, 5]))
    p.addPeer("b", bits(6, [0, 5]))
    assert.deepStrictEqual(p.pick("a", 8, seq(0.7)).map((b) => b.piece), [1, 1, 2, 2, 4, 4, 5, 5])
    assert.deepStrictEqual(p.pick("b", 8, seq(0.7)).map((b) => b.piece), [0, 0])
    ok(p)
  })

  it("never asks a peer for a piece it lacks, nor for unwanted or verified pieces", () => {
    const wanted = [true, false, true, true]
    const p = picker(cfg(4, { wanted, have: bits(4, [3]) }))
    p.addPeer("a", bits(4, [0, 1, 3]))
    const got = p.pick("a", 100, seq(0.1))
    assert.deepStrictEqual([...new Set(got.map((b) => b.piece))], [0])
    assert.isFalse(p.isInteresting("b"))
    assert.isFalse(p.peerHas("a", PieceIndex(2)), "'a' was interesting already")
    p.addPeer("b", bits(4, [1, 3]))
    assert.isFalse(p.isInteresting("b"))
    assert.isTrue(p.peerHas("b", PieceIndex(2)), "now 'b' has something we want")
    ok(p)
  })

  it("interest follows haves and verification", () => {
    const p = picker(cfg(2))
    p.addPeer("a", bits(2, []))
    assert.isFalse(p.isInteresting("a"))
    assert.isTrue(p.peerHas("a", PieceIndex(0)))
    assert.isFalse(p.peerHas("a", PieceIndex(0)), "repeated have is a no-op")
    assert.isFalse(p.peerHas("a", PieceIndex(7)), "out of range is ignored")
    deliver(p, "a", p.pick("a", 10, seq(0)))
    assert.isFalse(p.isInteresting("a"))
    ok(p)
  })

  it("no block is handed out twice before endgame; removePeer returns blocks to the pool", () => {
    const p = picker(cfg(5))
    p.addPeer("a", all(5))
    p.addPeer("b", all(5))
    const a = p.pick("a", 4, seq(0.2))
    const b = p.pick("b", 4, seq(0.2))
    const key = (x: Block) => `${x.piece}:${x.begin}`
    assert.strictEqual(a.length, 4)
    assert.strictEqual(b.length, 4)
    assert.strictEqual(new Set([...a, ...b].map(key)).size, 8)
    assert.isFalse(p.inEndgame())
    const released = p.removePeer("a")
    assert.deepStrictEqual(released.map(key).sort(), a.map(key).sort())
    const again = p.pick("b", 10, seq(0.2))
    assert.strictEqual(again.length, 6, "the 4 released blocks and the untouched last piece")
    for (const x of a) assert.include(again.map(key), key(x))
    ok(p)
  })

  it("timeouts, cancels and rejects make a block requestable again", () => {
    const p = picker(cfg(1))
    p.addPeer("a", all(1))
    p.addPeer("b", all(1))
    const [b0, b1] = p.pick("a", 2, seq(0))
    if (b0 === undefined || b1 === undefined) return assert.fail("two blocks expected")
    assert.isTrue(p.requestTimedOut("a", b0))
    assert.isFalse(p.requestTimedOut("a", b0), "already released")
    assert.isTrue(p.rejected("a", b1))
    assert.strictEqual(p.inflight("a"), 0)
    assert.strictEqual(p.openPieces(), 0, "an idle piece is closed again")
    assert.strictEqual(p.pick("b", 5, seq(0)).length, 2)
    ok(p)
  })

  it("a failed piece returns its contributors and all its blocks", () => {
    const p = picker(cfg(1))
    p.addPeer("a", all(1))
    p.addPeer("b", all(1))
    const [x] = p.pick("a", 1, seq(0))
    const [y] = p.pick("b", 1, seq(0))
    if (x === undefined || y === undefined) return assert.fail("blocks expected")
    assert.strictEqual(p.blockReceived("a", x.piece, x.begin, x.length)._tag, "Accepted")
    const r = p.blockReceived("b", y.piece, y.begin, y.length)
    assert.isTrue(r._tag === "Accepted" && r.pieceComplete)
    const failed = p.pieceFailed(PieceIndex(0))
    assert.deepStrictEqual([...failed.contributors].sort(), ["a", "b"])
    // who sent which block, by block index (the smart ban compares them once the piece verifies)
    assert.deepStrictEqual([...failed.senders].sort(), ["a", "b"])
    assert.deepStrictEqual(failed.senders[x.begin / x.length], "a")
    assert.strictEqual(p.remainingWanted(), 1)
    assert.strictEqual(p.pick("a", 5, seq(0)).length, 2)
    ok(p)
  })

  it("endgame hands out duplicates only when every block is requested, and returns cancels", () => {
    const p = picker(cfg(2))
    for (const k of ["a", "b", "c"]) p.addPeer(k, all(2))
    const a = p.pick("a", 3, seq(0))
    assert.strictEqual(a.length, 3)
    assert.isFalse(p.inEndgame())
    const b = p.pick("b", 3, seq(0))
    assert.isTrue(p.inEndgame())
    // b got the last fresh block plus duplicates of a's blocks
    assert.strictEqual(b.length, 3)
    assert.strictEqual(p.pick("a", 3, seq(0)).length, 1, "a may only duplicate the block it lacks")
    const last = b[0]
    if (last === undefined) return assert.fail("block expected")
    const c = p.pick("c", 10, seq(0))
    assert.strictEqual(c.length, 4, "every block in flight, c may duplicate all")
    const r = p.blockReceived("c", last.piece, last.begin, last.length)
    assert.isTrue(r._tag === "Accepted")
    if (r._tag === "Accepted") assert.deepStrictEqual([...r.cancels].sort(), ["a", "b"])
    assert.strictEqual(p.blockReceived("b", last.piece, last.begin, last.length)._tag, "Duplicate")
    ok(p)
  })

  it("blockReceived classifies invalid, unrequested and duplicate blocks", () => {
    const p = picker({ pieceCount: 2, pieceLength: 2 * BLOCK_SIZE, totalSize: 3 * BLOCK_SIZE - 5 })
    p.addPeer("a", all(2))
    assert.strictEqual(p.blockReceived("a", PieceIndex(2), 0, BLOCK_SIZE)._tag, "Invalid")
    assert.strictEqual(p.blockReceived("a", PieceIndex(0), 5, BLOCK_SIZE)._tag, "Invalid")
    assert.strictEqual(p.blockReceived("a", PieceIndex(1), 0, BLOCK_SIZE)._tag, "Invalid", "last block is shorter")
    assert.strictEqual(p.blockReceived("a", PieceIndex(1), 0, BLOCK_SIZE - 5)._tag, "Unrequested")
    const picked = p.pick("a", 10, seq(0))
    assert.deepStrictEqual(picked.map((b) => b.length), [BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE - 5].sort((x, y) => y - x))
    deliver(p, "a", picked)
    assert.isTrue(p.isComplete())
    assert.strictEqual(p.blockReceived("a", PieceIndex(1), 0, BLOCK_SIZE - 5)._tag, "Duplicate")
    ok(p)
  })

  it("pieces with every block received, waiting for their hash check, do not hold the open-piece limit", () => {
    const p = picker(cfg(10, { maxOpenPieces: 2 }))
    p.addPeer("a", all(10))
    const first = p.pick("a", 100, seq(0))
    const open = [...new Set(first.map((b) => b.piece))]
    assert.strictEqual(open.length, 2)
    assert.strictEqual(p.pick("a", 100, seq(0)).length, 0, "limit reached while both are downloading")
    // every block of the first piece arrives: it waits for verification, still open
    for (const b of first.filter((b) => b.piece === open[0])) p.blockReceived("a", b.piece, b.begin, b.length)
    assert.strictEqual(p.openPieces(), 2)
    const next = p.pick("a", 100, seq(0))
    assert.isAbove(next.length, 0, "a complete piece awaiting its check frees its slot")
    assert.isTrue(next.every((b) => !open.includes(b.piece)))
    assert.strictEqual(new Set(next.map((b) => b.piece)).size, 1, "one new piece, the other slot is still downloading")
    ok(p)
  })

  it("limits the number of open pieces, but not with pieces nobody can serve", () => {
    const p = picker(cfg(10, { maxOpenPieces: 2 }))
    p.addPeer("a", all(10))
    const first = p.pick("a", 100, seq(0))
    const open = [...new Set(first.map((b) => b.piece))]
    assert.strictEqual(open.length, 2)
    p.addPeer("b", all(10))
    assert.strictEqual(p.pick("b", 100, seq(0)).length, 0, "both open pieces fully requested, limit reached")
    // "a" delivers the first block of each open piece and vanishes, then "b" too: the two
    // partial pieces stay open (their data is kept) but nobody can serve them, so they must not
    // block a new peer that has other pieces.
    deliver(p, "a", first.filter((b) => b.begin === 0))
    p.removePeer("b")
    assert.strictEqual(p.removePeer("a").length, 2)
    assert.strictEqual(p.openPieces(), 2)
    p.addPeer("c", makeBitfield(10, (i) => !open.includes(PieceIndex(i))))
    const fresh = p.pick("c", 100, seq(0))
    assert.strictEqual(fresh.length, 4)
    assert.isTrue(fresh.every((b) => !open.includes(b.piece)))
    ok(p)
  })

  it("setFilePriorities drops unwanted pieces from picking; a seed-only swarm works", () => {
    const p = picker(cfg(4))
    p.setFilePriorities([{ offset: 0, length: 2 * BLOCK_SIZE, padding: false }, {
      offset: 2 * BLOCK_SIZE,
      length: 6 * BLOCK_SIZE,
      padding: false
    }], [1, 0])
    assert.strictEqual(p.remainingWanted(), 1)
    p.peerHasAll("s")
    assert.isTrue(p.isInteresting("s"))
    const got = p.pick("s", 100, seq(0))
    assert.deepStrictEqual(got.map((b) => b.piece), [0, 0])
    deliver(p, "s", got)
    assert.isTrue(p.isComplete())
    assert.isFalse(p.isInteresting("s"))
    ok(p)
  })

  it("scales: 1 GiB of 1 MiB pieces with 200 peers completes quickly", () => {
    const n = 1024
    const p = picker({ pieceCount: n, pieceLength: MiB, totalSize: n * MiB, maxOpenPieces: 256 })
    let x = 0.5
    const rnd = () => (x = (x * 16807 + 0.1) % 1)
    for (let i = 0; i < 200; i++) p.addPeer(`p${i}`, makeBitfield(n, () => rnd() < 0.5))
    p.peerHasAll("seed")
    const start = performance.now()
    let rounds = 0
    while (!p.isComplete() && rounds < 10_000) {
      rounds++
      for (let i = 0; i < 201; i++) {
        const key = i === 200 ? "seed" : `p${i}`
        deliver(p, key, p.pick(key, 16, rnd))
      }
    }
    const ms = performance.now() - start
    assert.isTrue(p.isComplete())
    console.log(`picker: 1024 x 1 MiB pieces, 201 peers, ${rounds} rounds in ${ms.toFixed(0)} ms`)
    assert.isBelow(ms, 10_000)
  })

  it("scales: 64 MiB swarm of 1000 peers announcing haves while we download", () => {
    const n = 256
    const p = picker({ pieceCount: n, pieceLength: 256 * KiB, totalSize: n * 256 * KiB })
    let x = 0.25
    const rnd = () => (x = (x * 16807 + 0.3) % 1)
    const peers = Array.from({ length: 1000 }, (_, i) => `p${i}`)
    for (const k of peers) p.addPeer(k, makeBitfield(n, () => rnd() < 0.1))
    const start = performance.now()
    let rounds = 0
    while (!p.isComplete() && rounds < 1000) {
      rounds++
      for (const k of peers) {
        p.peerHas(k, PieceIndex(Math.floor(rnd() * n)))
        // each peer delivers half of what it was asked for, the rest times out
        p.pick(k, 4, rnd).forEach((b, i) => {
          if (i % 2 === 1) return void p.requestTimedOut(k, b)
          const r = p.blockReceived(k, b.piece, b.begin, b.length)
          if (r._tag === "Accepted" && r.pieceComplete) p.pieceVerified(b.piece)
        })
      }
    }
    const ms = performance.now() - start
    assert.isTrue(p.isComplete())
    ok(p)
    console.log(`picker: 256 x 256 KiB pieces, 1000 peers, ${rounds} rounds (${rounds * 1000} picks) in ${ms.toFixed(0)} ms`)
    assert.isBelow(ms, 10_000)
  })
})
