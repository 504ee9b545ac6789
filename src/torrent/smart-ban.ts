/**
 * Smart ban: whom to ban for pieces that failed their hash check, a pure ledger per torrent.
 *
 * A piece that fails is rebuilt from other blocks; once it verifies, its good bytes say
 * exactly which blocks of the failed attempt were wrong, and so who lied. Rules:
 * - a failed piece whose received blocks all came from one peer convicts it at once;
 * - a failed piece from several peers is remembered as a SHA-1 per block with its sender;
 *   nobody is struck for it;
 * - when the piece verifies, every sender of a block whose digest differs from the good
 *   block's is convicted; the senders of matching blocks are honest and never touched.
 *
 * A cryptographic digest, not a checksum: a liar must not be able to send different bytes
 * that compare equal and so get away while its piece is blamed on nobody.
 *
 * Invariants: a peer is convicted at most once; memory is bounded: at most `maxPieces`
 * pieces (the oldest forgotten first) with at most `maxFailures` attempts each, 20 bytes
 * per block.
 */
import { bytesEqual, sha1 } from "../bytes.ts"

/** The unit senders are recorded in (the picker's block, BEP 3's customary request size). */
export const SMART_BAN_BLOCK = 16 * 1024

interface Attempt<K> {
  /** By block: who sent it, or undefined when nobody did. */
  readonly senders: ReadonlyArray<K | undefined>
  readonly digests: ReadonlyArray<Uint8Array>
}

export interface SmartBan<K> {
  readonly maxPieces: number
  readonly maxFailures: number
  /** Failed attempts by piece, in insertion order (the oldest piece first). */
  readonly pieces: Map<number, { readonly size: number; readonly attempts: Array<Attempt<K>> }>
  readonly convicted: Set<K>
}

export const makeSmartBan = <K>(maxPieces = 256, maxFailures = 4): SmartBan<K> => ({
  maxPieces: Math.max(1, maxPieces),
  maxFailures: Math.max(1, maxFailures),
  pieces: new Map(),
  convicted: new Set()
})

const blockOf = (data: Uint8Array, block: number): Uint8Array =>
  data.subarray(block * SMART_BAN_BLOCK, Math.min(data.length, (block + 1) * SMART_BAN_BLOCK))

const digestsOf = <K>(data: Uint8Array, senders: ReadonlyArray<K | undefined>): Array<Uint8Array> =>
  senders.map((sender, block) => (sender === undefined ? new Uint8Array(0) : sha1(blockOf(data, block))))

const convictAll = <K>(ban: SmartBan<K>, peers: Iterable<K>): Array<K> => {
  const out: Array<K> = []
  for (const peer of peers) {
    if (ban.convicted.has(peer)) continue
    ban.convicted.add(peer)
    out.push(peer)
  }
  return out
}

/**
 * Records a failed piece: `senders` by block, `data` its bytes as received.
 * Returns the peers convicted now (a lone sender), to ban.
 */
export const pieceFailed = <K>(
  ban: SmartBan<K>,
  piece: number,
  senders: ReadonlyArray<K | undefined>,
  data: Uint8Array
): ReadonlyArray<K> => {
  const distinct = new Set<K>()
  for (const s of senders) if (s !== undefined) distinct.add(s)
  if (distinct.size === 0) return []
  if (distinct.size === 1) return convictAll(ban, distinct)
  if (data.length === 0) return []
  let entry = ban.pieces.get(piece)
  if (entry === undefined || entry.size !== data.length) {
    ban.pieces.delete(piece)
    entry = { size: data.length, attempts: [] }
    ban.pieces.set(piece, entry)
    for (const oldest of ban.pieces.keys()) {
      if (ban.pieces.size <= ban.maxPieces) break
      ban.pieces.delete(oldest)
    }
  }
  // A piece failing again and again keeps its latest attempts: they name the peers still sending.
  if (entry.attempts.length >= ban.maxFailures) entry.attempts.shift()
  entry.attempts.push({ senders: [...senders], digests: digestsOf(data, senders) })
  return []
}

/** The size of `piece` when failed attempts of it wait for its good bytes (read them, then `pieceVerified`). */
export const suspectSize = <K>(ban: SmartBan<K>, piece: number): number | undefined => ban.pieces.get(piece)?.size

/**
 * `piece` verified with bytes `good`: convicts the senders of every block of a failed
 * attempt that differs from it. Returns the peers convicted now, to ban.
 */
export const pieceVerified = <K>(ban: SmartBan<K>, piece: number, good: Uint8Array): ReadonlyArray<K> => {
  const entry = ban.pieces.get(piece)
  if (entry === undefined) return []
  ban.pieces.delete(piece)
  if (entry.size !== good.length) return []
  const goodDigests = new Map<number, Uint8Array>()
  const liars = new Set<K>()
  for (const attempt of entry.attempts) {
    attempt.senders.forEach((sender, block) => {
      if (sender === undefined || liars.has(sender)) return
      let digest = goodDigests.get(block)
      if (digest === undefined) {
        digest = sha1(blockOf(good, block))
        goodDigests.set(block, digest)
      }
      const sent = attempt.digests[block]
      if (sent === undefined || !bytesEqual(sent, digest)) liars.add(sender)
    })
  }
  return convictAll(ban, liars)
}
