/**
 * The encryption policy, as users choose it (`ClientConfig.encryption`, `--encryption`).
 *
 * - "prefer" (default): outgoing connections open with MSE offering RC4 and plaintext
 *   (one plaintext retry if that fails, and the reverse); incoming connections may be
 *   either; offered both, we select RC4.
 * - "require": RC4 only, both ways; plaintext handshakes are refused.
 * - "disable": plaintext BitTorrent only; MSE openings are refused.
 */
import { CRYPTO_PLAINTEXT, CRYPTO_RC4 } from "./machine.ts"

export type EncryptionPolicy = "prefer" | "require" | "disable"

export const ENCRYPTION_POLICIES: ReadonlyArray<EncryptionPolicy> = ["prefer", "require", "disable"]

/** crypto_provide for an outgoing MSE handshake under `policy`. */
export const provideFor = (policy: EncryptionPolicy): number =>
  policy === "require" ? CRYPTO_RC4 : CRYPTO_RC4 | CRYPTO_PLAINTEXT

/** crypto_select for what a peer provides under `policy`: RC4 when we may, else plaintext, else 0. */
export const selectFor = (policy: EncryptionPolicy) => (provide: number): number => {
  if ((provide & CRYPTO_RC4) !== 0 && policy !== "disable") return CRYPTO_RC4
  if ((provide & CRYPTO_PLAINTEXT) !== 0 && policy !== "require") return CRYPTO_PLAINTEXT
  return 0
}
