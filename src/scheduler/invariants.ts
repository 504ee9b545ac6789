/**
 * Full consistency check of a picker state against the invariants written at
 * the top of state.ts. O(pieces * peers): for tests and debugging, not hot paths.
 * Returns the first violation found, or null.
 */
import { inBuckets } from "./buckets.ts"
import { blocksInPiece, hasBit } from "./geometry.ts"
import { blockKey, isCandidate, MISSING, RECEIVED, REQUESTED, type State } from "./state.ts"

export const checkInvariants = <K>(s: State<K>): string | null => {
  let missingWanted = 0
  let remainingWanted = 0
  for (let p = 0; p < s.g.pieceCount; p++) {
    const prog = s.open.get(p)
    if (s.verified[p] === 1 && prog !== undefined) return `verified piece ${p} is open`
    if (isCandidate(s, p) !== inBuckets(s.buckets, p)) return `piece ${p}: candidate/bucket mismatch`
    if (inBuckets(s.buckets, p) && s.buckets.lists[s.avail[p] ?? 0]?.[s.buckets.pos[p] ?? -1] !== p) {
      return `piece ${p} filed under the wrong availability`
    }
    let availability = 0
    for (const peer of s.peers.values()) if (peer.bits !== null && hasBit(peer.bits, p)) availability++
    if (availability !== s.avail[p]) return `piece ${p}: avail ${s.avail[p]} but ${availability} peers have it`
    if (s.wanted[p] === 1 && s.verified[p] === 0) {
      remainingWanted++
      missingWanted += prog === undefined ? blocksInPiece(s.g, p) : prog.missing
    }
    if (prog === undefined) continue
    if (prog.received === 0 && prog.requested === 0) return `piece ${p} is open but idle`
    const counts = [0, 0, 0]
    for (let i = 0; i < prog.state.length; i++) {
      const st = prog.state[i] ?? -1
      counts[st] = (counts[st] ?? 0) + 1
      const reqs = prog.requesters[i] ?? []
      if ((st === REQUESTED) !== (reqs.length > 0)) return `piece ${p} block ${i}: state ${st} with ${reqs.length} requesters`
      if (new Set(reqs).size !== reqs.length) return `piece ${p} block ${i}: a peer requested it twice`
      if (st === MISSING && i < prog.hint) return `piece ${p}: missing block ${i} below hint ${prog.hint}`
      for (const r of reqs) {
        if (s.peers.get(r)?.inflight.has(blockKey(s, p, i)) !== true) return `piece ${p} block ${i}: requester not tracking it`
      }
    }
    if (counts[MISSING] !== prog.missing || counts[REQUESTED] !== prog.requested || counts[RECEIVED] !== prog.received) {
      return `piece ${p}: block counters out of sync`
    }
  }
  if (missingWanted !== s.missingWanted) return `missingWanted ${s.missingWanted}, actual ${missingWanted}`
  if (remainingWanted !== s.remainingWanted) return `remainingWanted ${s.remainingWanted}, actual ${remainingWanted}`
  let seeds = 0
  for (const [key, peer] of s.peers) {
    if (peer.bits === null) seeds++
    else {
      let interesting = 0
      for (let p = 0; p < s.g.pieceCount; p++) {
        if (hasBit(peer.bits, p) && s.wanted[p] === 1 && s.verified[p] === 0) interesting++
      }
      if (interesting !== peer.interesting) return `peer ${String(key)}: interesting ${peer.interesting}, actual ${interesting}`
    }
    let refs = 0
    for (const k of peer.inflight) {
      const piece = Math.floor(k / s.blocksPerPiece)
      const reqs = s.open.get(piece)?.requesters[k - piece * s.blocksPerPiece] ?? []
      if (!reqs.includes(key)) return `peer ${String(key)} tracks block ${k} it is not a requester of`
    }
    for (const n of peer.pieceRefs.values()) refs += n
    if (refs !== peer.inflight.size) return `peer ${String(key)}: pieceRefs out of sync`
  }
  if (seeds !== s.seeds) return `seeds ${s.seeds}, actual ${seeds}`
  return null
}
