/**
 * The encryption policy, as users choose it (`ClientConfig.encryption`, `--encryption`).
 *
 * - "prefer" (default): outgoing connections open with MSE offering RC4 and plaintext
 *   (one plaintext retry if that fails, and the reverse); incoming connections may be
 *   either. Offered both, we select plaintext, as libtorrent does by default
 *   (`prefer_rc4 = false`: it keeps the lowest bit of provide & allowed): the handshake,
 *   and so the info-hash and the BitTorrent handshake (IA), stays obfuscated, while the
 *   payload is not encrypted, which would cost the serving side most of its CPU (RC4 was
 *   29 % of our seeder's profile serving libtorrent). A peer that wants RC4 offers RC4 only.
 * - "require": RC4 only, both ways; plaintext handshakes are refused.
 * - "disable": plaintext BitTorrent only; MSE openings are refused.
 */
import { CRYPTO_PLAINTEXT, CRYPTO_RC4 } from "./machine.ts"

export type EncryptionPolicy = "prefer" | "require" | "disable"

export const ENCRYPTION_POLICIES: ReadonlyArray<EncryptionPolicy> = ["prefer", "require", "disable"]

/** crypto_provide for an outgoing MSE handshake under `policy`. */
export const provideFor = (policy: EncryptionPolicy): number =>
  policy === "require" ? CRYPTO_RC4 : CRYPTO_RC4 | CRYPTO_PLAINTEXT

/**
 * crypto_select for what a peer provides under `policy`: plaintext when both of us allow
 * it (libtorrent's default rule, see above), else RC4, else 0 (no common method).
 */
export const selectFor = (policy: EncryptionPolicy) => (provide: number): number => {
  if ((provide & CRYPTO_PLAINTEXT) !== 0 && policy !== "require") return CRYPTO_PLAINTEXT
  if ((provide & CRYPTO_RC4) !== 0 && policy !== "disable") return CRYPTO_RC4
  return 0
}
