/**
 * A download killed part-way (its client's scope closed) and restarted on the same
 * directory: the pieces verified before the kill are on disk, the second client starts
 * with exactly those, requests none of their blocks again, and finishes byte-identical.
 * Run twice: with the resume record the first client saved on close, and without it (as
 * after a crash), which forces a recheck of the files.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { awaitComplete, currentState, recordEvents, startClient, waitForState } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, makeTorrent, pieceBytes, pieceOnDisk } from "./support/torrent-fixture.ts"

const PIECE = 32 * 1024 // 2 blocks

const killAndResume = (dropResumeRecord: boolean) =>
  Effect.gen(function*() {
    const source = yield* tempDir()
    const out = yield* tempDir()
    const fixture = yield* makeTorrent(source, "payload", { "one.bin": 300_001, "two/three.bin": 211_111 }, PIECE)
    const { pieceCount, totalSize } = fixture.metainfo
    // Run 1 gets the even pieces, and only the first block of piece 1 (left half-done).
    const even = Array.from({ length: pieceCount }, (_, i) => i).filter((i) => i % 2 === 0)
    const halfDone = 1
    const first = yield* scriptedPeer({
      infoHash: fixture.infoHash,
      data: fixture.data,
      pieceLength: PIECE,
      have: [...even, halfDone],
      answer: (r) => r.piece !== halfDone || r.begin === 0
    })

    const run1 = yield* Scope.make()
    const verified = yield* Effect.gen(function*() {
      const client = yield* startClient(out)
      const torrent = yield* client.add(fixture.torrent)
      const log = yield* recordEvents(torrent)
      yield* torrent.addPeers([first.address])
      for (const piece of even) {
        yield* log.waitFor(`piece ${piece} verified in run 1`, (e) => e._tag === "PieceVerified" && e.piece === piece)
      }
      return log.all().flatMap((e) => (e._tag === "PieceVerified" ? [e.piece] : []))
    }).pipe(Scope.provide(run1))
    assert.isTrue(first.blocksSent().some((b) => b.piece === halfDone), "run 1 received part of the half-done piece")
    yield* Scope.close(run1, Exit.void) // the kill: sessions, storage and listener go away
    assert.sameMembers(verified, even)

    for (const piece of even) {
      assert.deepStrictEqual(yield* pieceOnDisk(out, fixture.metainfo, piece), pieceBytes(fixture, piece), `piece ${piece} on disk after the kill`)
    }
    if (dropResumeRecord) yield* Effect.promise(() => rm(join(out, ".effect-torrent"), { recursive: true, force: true }))

    const second = yield* scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE })
    const client = yield* startClient(out)
    const torrent = yield* client.add(fixture.torrent)
    const log = yield* recordEvents(torrent)
    const initial = yield* currentState(torrent)
    assert.strictEqual(initial.piecesVerified, even.length, "run 2 starts with exactly the pieces run 1 verified")
    const alreadyHad = even.reduce((n, p) => n + pieceBytes(fixture, p).length, 0)
    assert.strictEqual(initial.verifiedBytes, alreadyHad)

    yield* torrent.addPeers([second.address])
    yield* awaitComplete(torrent, log)

    const again = second.requests().filter((r) => even.includes(r.piece))
    assert.deepStrictEqual(again, [], "run 2 requested blocks of pieces verified in run 1")
    const requestedBytes = second.requests().reduce((n, r) => n + r.length, 0)
    assert.strictEqual(requestedBytes, totalSize - alreadyHad, "run 2 requests exactly the missing bytes, once each")
    const final = yield* waitForState(torrent, "every piece verified", (st) => st.piecesVerified === pieceCount)
    assert.strictEqual(final.downloaded, totalSize - alreadyHad, "payload bytes downloaded in run 2")
    assert.sameMembers(
      log.all().flatMap((e) => (e._tag === "PieceVerified" ? [e.piece] : [])),
      Array.from({ length: pieceCount }, (_, i) => i).filter((i) => i % 2 === 1)
    )
    assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
  })

describe("failure: download killed part-way and restarted", () => {
  it.live("resumes from the resume record without downloading verified pieces again", () => killAndResume(false))
  it.live("without a resume record (crash), rechecks the files and still downloads nothing verified again", () =>
    killAndResume(true))
})
