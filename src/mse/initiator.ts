/**
 * The initiator's (A's) side of the MSE handshake, as a pure state machine.
 *
 * 1. A → B: Ya, PadA                                        (`opening`)
 * 2. B → A: Yb, PadB                                        phase "key": 96 bytes of Yb
 * 3. A → B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *           ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 * 4. B → A: ENCRYPT(VC, crypto_select, len(PadD), PadD)     phase "vc": the encrypted VC
 *           within 512 + 8 bytes after Yb; phase "select"; phase "padD"
 * 5. the stream: RC4 both ways, or plaintext after PadD / IA.
 */
import { keyA, keyB, obfuscatedSkey, req1 } from "./keys.ts"
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, Inbox, keyMessage, makeMachine, MAX_PAD, mseError, type MseMachine, type PhaseResult, receiveSecret, syncTo, VC_LENGTH, view } from "./machine.ts"
import { makeMseCipher, type Rc4 } from "./rc4.ts"

export interface InitiatorParams {
  /** 160-bit private exponent (20 random bytes). */
  readonly privateKey: Uint8Array
  /** PadA: 0..512 random bytes. */
  readonly padA: Uint8Array
  /** PadC: 0..512 bytes (usually empty). */
  readonly padC: Uint8Array
  /** The torrent's info-hash (v1, or v2 truncated to 20 bytes). */
  readonly skey: Uint8Array
  /** crypto_provide bits (CRYPTO_RC4 and/or CRYPTO_PLAINTEXT). */
  readonly provide: number
  /** Initial payload sent inside step 3, normally our BitTorrent handshake (≤ 65535 bytes). */
  readonly ia: Uint8Array
}

export interface Initiator {
  /** Step 1: Ya and PadA, to send as soon as the connection is up. */
  readonly opening: Uint8Array
  readonly machine: MseMachine
}

export const makeInitiator = (p: InitiatorParams): Initiator => {
  if (p.padA.length > MAX_PAD || p.padC.length > MAX_PAD || p.ia.length > 0xffff || p.skey.length !== 20) {
    throw new RangeError("MSE initiator: pads ≤ 512 bytes, IA ≤ 65535 bytes and a 20-byte SKEY")
  }
  const opening = keyMessage(p.privateKey, p.padA)
  const inbox = new Inbox()
  let phase: "key" | "vc" | "select" | "padD" | "done" = "key"
  let encrypt: Rc4 | undefined
  let decrypt: Rc4 | undefined
  let encryptedVc: Uint8Array = new Uint8Array(0)
  let selected = 0
  let padD = 0

  /** Step 3, once S is known. */
  const step3 = (secret: Uint8Array): Uint8Array => {
    const a = makeMseCipher(keyA(secret, p.skey))
    const b = makeMseCipher(keyB(secret, p.skey))
    encrypt = a
    decrypt = b
    // The responder's step 4 starts with VC under keyB: that is the pattern to scan for.
    encryptedVc = new Uint8Array(VC_LENGTH)
    b.apply(encryptedVc)
    const plainLength = VC_LENGTH + 4 + 2 + p.padC.length + 2
    const out = new Uint8Array(40 + plainLength + p.ia.length)
    out.set(req1(secret), 0)
    out.set(obfuscatedSkey(p.skey, secret), 20)
    const v = view(out)
    // VC is already zeros
    v.setUint32(40 + VC_LENGTH, p.provide)
    v.setUint16(40 + VC_LENGTH + 4, p.padC.length)
    out.set(p.padC, 40 + VC_LENGTH + 6)
    v.setUint16(40 + plainLength - 2, p.ia.length)
    out.set(p.ia, 40 + plainLength)
    a.apply(out, 40)
    return out
  }

  const runPhase = (sent: Array<Uint8Array>): PhaseResult => {
    switch (phase) {
      case "key": {
        const secret = receiveSecret(inbox, p.privateKey)
        if (!(secret instanceof Uint8Array)) return secret
        sent.push(step3(secret))
        phase = "vc"
        return "next"
      }
      case "vc": {
        const found = syncTo(inbox, encryptedVc, `no verification constant within ${MAX_PAD + VC_LENGTH} bytes after the peer's key`)
        if (found !== "next") return found
        phase = "select"
        return "next"
      }
      case "select": {
        const header = inbox.takeDecrypted(6, decrypt)
        if (header === undefined) return "wait"
        const v = view(header)
        selected = v.getUint32(0)
        padD = v.getUint16(4)
        if ((selected !== CRYPTO_RC4 && selected !== CRYPTO_PLAINTEXT) || (selected & p.provide) === 0) {
          return mseError("NoCommonMethod", `the peer selected crypto method 0x${selected.toString(16)}; we offered 0x${p.provide.toString(16)}`)
        }
        if (padD > MAX_PAD) return mseError("BadPadding", `PadD of ${padD} bytes (at most ${MAX_PAD})`)
        phase = "padD"
        return "next"
      }
      case "padD": {
        // both ciphers exist since step 3; PadD itself is only skipped (decrypted to keep the keystream in step)
        if (decrypt === undefined || encrypt === undefined || inbox.takeDecrypted(padD, decrypt) === undefined) return "wait"
        phase = "done"
        const rc4 = selected === CRYPTO_RC4
        const initial = inbox.rest()
        if (rc4) decrypt.apply(initial)
        return {
          method: rc4 ? "rc4" : "plaintext",
          skey: p.skey,
          encrypt: rc4 ? encrypt : null,
          decrypt: rc4 ? decrypt : null,
          initial
        }
      }
      case "done":
        return "wait"
    }
  }

  const phaseNames = { key: "the peer's public key", vc: "the peer's verification constant", select: "the peer's crypto_select", padD: "the peer's PadD", done: "nothing" }
  return { opening, machine: makeMachine(inbox, runPhase, () => phaseNames[phase]) }
}
