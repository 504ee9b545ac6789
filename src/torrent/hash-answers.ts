/**
 * A torrent's answers to BEP 52 hash requests: piece-layer requests at once from the
 * metainfo; leaf requests from the pieces under them, read back from storage and hashed
 * per 16 KiB block (only pieces we hold: a piece we lack cannot prove anything), and only
 * when `mayRead` (the session unchokes the peer). A storage failure while reading is a hash
 * reject, not the session's end.
 */
import { Effect } from "effect"
import { PieceIndex } from "../ids.ts"
import { blockLeaves, type HashRange, makeHashServer, type Metainfo } from "../metainfo/index.ts"
import type { TorrentStorage } from "../storage/index.ts"

export const hashAnswers = (meta: Metainfo, storage: Pick<TorrentStorage, "hasPiece" | "read">) => {
  const server = makeHashServer(meta)
  return (range: HashRange, mayRead: boolean): Effect.Effect<Uint8Array | string> => {
    const answer = server(range)
    if (typeof answer === "string" || answer instanceof Uint8Array) return Effect.succeed(answer)
    if (!mayRead) return Effect.succeed("leaf hashes (read back from the data) for a peer we choke")
    const missing = answer.pieces.find((p) => !storage.hasPiece(PieceIndex(p.piece)))
    if (missing !== undefined) return Effect.succeed(`we do not hold piece ${missing.piece}, under the leaves asked for`)
    return Effect.forEach(answer.pieces, (p) => Effect.map(storage.read(PieceIndex(p.piece), 0, p.length), blockLeaves)).pipe(
      Effect.map((parts) => answer.finish(Buffer.concat(parts))),
      Effect.catch((e) => Effect.succeed(`reading the pieces back failed: ${e.message}`))
    )
  }
}
