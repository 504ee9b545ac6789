/**
 * A torrent's answers to BEP 52 hash requests: piece-layer requests at once from the
 * metainfo; leaf requests from the pieces under them, read back from storage and hashed
 * per 16 KiB block (only pieces we hold: a piece we lack cannot prove anything), and only
 * when the session unchokes the peer. Every request spends from the asking peer's budget
 * (peer/hash-budget.ts), a leaf answer its blocks too, before anything is read: a peer over
 * it gets a reject. A storage failure while reading is a hash reject, not the session's end.
 */
import { Effect } from "effect"
import { PieceIndex } from "../ids.ts"
import { BLOCK_SIZE, blockLeaves, type HashRange, type LeafRead, makeHashServer, type Metainfo } from "../metainfo/index.ts"
import { type HashAsker, overBudget } from "../peer/hash-budget.ts"
import type { TorrentStorage } from "../storage/index.ts"

/** The 16 KiB blocks a leaf answer reads back and hashes (a piece's last block may be short). Pure. */
export const leafBlocks = (pieces: LeafRead["pieces"]): number => pieces.reduce((n, p) => n + Math.ceil(p.length / BLOCK_SIZE), 0)

export const hashAnswers = (meta: Metainfo, storage: Pick<TorrentStorage, "hasPiece" | "read">) => {
  const server = makeHashServer(meta)
  const read = (answer: LeafRead, asker: HashAsker): Effect.Effect<Uint8Array | string> => {
    if (!asker.mayRead) return Effect.succeed("leaf hashes (read back from the data) for a peer we choke")
    const missing = answer.pieces.find((p) => !storage.hasPiece(PieceIndex(p.piece)))
    if (missing !== undefined) return Effect.succeed(`we do not hold piece ${missing.piece}, under the leaves asked for`)
    return Effect.flatMap(asker.budget.leaves(leafBlocks(answer.pieces)), (ok) =>
      !ok
        ? Effect.succeed(overBudget("leaves"))
        : Effect.forEach(answer.pieces, (p) => Effect.map(storage.read(PieceIndex(p.piece), 0, p.length), blockLeaves)).pipe(
          Effect.map((parts) => answer.finish(Buffer.concat(parts))),
          Effect.catch((e) => Effect.succeed(`reading the pieces back failed: ${e.message}`))
        ))
  }
  return (range: HashRange, asker: HashAsker): Effect.Effect<Uint8Array | string> =>
    Effect.flatMap(asker.budget.request, (ok) => {
      if (!ok) return Effect.succeed(overBudget("requests"))
      const answer = server(range)
      return typeof answer === "string" || answer instanceof Uint8Array ? Effect.succeed(answer) : read(answer, asker)
    })
}
