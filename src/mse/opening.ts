/**
 * Telling the two openings apart on one listening port: a plaintext BitTorrent handshake
 * starts with `\x13BitTorrent protocol`; anything else is taken for an MSE public key.
 */

const PLAINTEXT_OPENING = new TextEncoder().encode("\x13BitTorrent protocol")
/** Bytes needed to be sure an opening is a plaintext handshake. */
export const OPENING_LENGTH = PLAINTEXT_OPENING.length

/** "undecided" while every byte so far matches the plaintext opening and there are fewer than 20. */
export const classifyOpening = (bytes: Uint8Array): "plaintext" | "mse" | "undecided" => {
  const n = Math.min(bytes.length, OPENING_LENGTH)
  for (let i = 0; i < n; i++) if (bytes[i] !== PLAINTEXT_OPENING[i]) return "mse"
  return n === OPENING_LENGTH ? "plaintext" : "undecided"
}
