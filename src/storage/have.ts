/**
 * The have set of an opened torrent: which pieces are verified, their count and payload
 * bytes, and how many wanted pieces are still missing. Plain data, no effects.
 *
 * Invariants: `verified` is the number of set bits; `bytes` is the sum of their payload
 * bytes (padding excluded); `missingWanted` counts pieces that are wanted and not set.
 */
import * as Bitfield from "./bitfield.ts"
import { type Layout, payloadBytes, wantedPieces } from "./layout.ts"

export interface HaveSet {
  readonly layout: Layout
  /** BEP 3 bitfield of the verified pieces. */
  readonly bits: Uint8Array
  verified: number
  bytes: number
  /** Per piece: overlaps a wanted file. */
  wanted: ReadonlyArray<boolean>
  missingWanted: number
}

const countMissingWanted = (h: HaveSet): void => {
  let missing = 0
  for (let piece = 0; piece < h.layout.pieceCount; piece++) {
    if (h.wanted[piece] === true && !Bitfield.get(h.bits, piece)) missing++
  }
  h.missingWanted = missing
}

/** Nothing verified yet; `wanted` per file (absent: every file). */
export const makeHaveSet = (layout: Layout, wanted: ReadonlyArray<boolean> | undefined): HaveSet => {
  const h: HaveSet = {
    layout,
    bits: Bitfield.make(layout.pieceCount),
    verified: 0,
    bytes: 0,
    wanted: wantedPieces(layout, wanted),
    missingWanted: 0
  }
  countMissingWanted(h)
  return h
}

export const has = (h: HaveSet, piece: number): boolean => Bitfield.get(h.bits, piece)

export const isWanted = (h: HaveSet, piece: number): boolean => h.wanted[piece] === true

export const mark = (h: HaveSet, piece: number, value: boolean): void => {
  if (Bitfield.get(h.bits, piece) === value) return
  Bitfield.set(h.bits, piece, value)
  if (h.wanted[piece] === true) h.missingWanted += value ? -1 : 1
  h.verified += value ? 1 : -1
  h.bytes += (value ? 1 : -1) * payloadBytes(h.layout, piece)
}

/** Replaces the whole set (after a recheck or from resume data). */
export const replace = (h: HaveSet, next: Uint8Array): void => {
  for (let piece = 0; piece < h.layout.pieceCount; piece++) mark(h, piece, Bitfield.get(next, piece))
}

/** `wanted` per file, already checked to have one entry per file. */
export const setWanted = (h: HaveSet, wanted: ReadonlyArray<boolean>): void => {
  h.wanted = wantedPieces(h.layout, wanted)
  countMissingWanted(h)
}
