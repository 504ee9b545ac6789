/**
 * The responder's (B's) side of the MSE handshake, as a pure state machine.
 *
 * 1. A → B: Ya, PadA                       phase "key": 96 bytes of Ya; answer Yb, PadB
 * 2. B → A: Yb, PadB
 * 3. A → B: HASH('req1', S)                phase "req1": within 512 + 20 bytes after Ya
 *           HASH('req2', SKEY) xor HASH('req3', S)            phase "skey": find the torrent
 *           ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 * 4. B → A: ENCRYPT(VC, crypto_select, len(PadD), PadD)
 * 5. the stream: RC4 both ways, or plaintext after IA / PadD.
 *
 * The first bytes may have been read already to tell MSE from a plaintext handshake
 * (`classifyOpening`): feed them like any other.
 */
import * as Dh from "./dh.ts"
import { keyA, keyB, req1, revealReq2 } from "./keys.ts"
import { CRYPTO_RC4, Inbox, keyMessage, makeMachine, MAX_PAD, mseError, type MseMachine, type PhaseResult, receiveSecret, syncTo, VC_LENGTH, view } from "./machine.ts"
import { makeMseCipher, type Rc4 } from "./rc4.ts"

export interface ResponderParams {
  /** 160-bit private exponent (20 random bytes). */
  readonly privateKey: Uint8Array
  /** PadB: 0..512 random bytes. */
  readonly padB: Uint8Array
  /** PadD: 0..512 bytes (usually empty). */
  readonly padD: Uint8Array
  /** The stream key (info-hash) whose `HASH('req2', SKEY)` this is, if we serve it. */
  readonly findSkey: (req2Hash: Uint8Array) => Uint8Array | undefined
  /** crypto_select for what the peer provides: one bit, or 0 when nothing is acceptable. */
  readonly select: (provide: number) => number
}

const phaseNames = {
  key: "the peer's public key",
  req1: "the peer's synchronisation hash",
  skey: "the peer's obfuscated info-hash",
  provide: "the peer's crypto_provide",
  padC: "the peer's PadC and the length of its initial payload",
  ia: "the peer's initial payload",
  done: "nothing"
} as const

export const makeResponder = (p: ResponderParams): MseMachine => {
  if (p.padB.length > MAX_PAD || p.padD.length > MAX_PAD) throw new RangeError("MSE responder: pads ≤ 512 bytes")
  const inbox = new Inbox()
  let phase: keyof typeof phaseNames = "key"
  let secret: Uint8Array = new Uint8Array(0)
  let sync: Uint8Array = new Uint8Array(0)
  let skey: Uint8Array = new Uint8Array(0)
  let decrypt: Rc4 | undefined
  let encrypt: Rc4 | undefined
  let selected = 0
  let padC = 0
  let iaLength = 0

  const step4 = (selected: number, cipher: Rc4): Uint8Array => {
    const out = new Uint8Array(VC_LENGTH + 6 + p.padD.length)
    const v = view(out)
    v.setUint32(VC_LENGTH, selected)
    v.setUint16(VC_LENGTH + 4, p.padD.length)
    out.set(p.padD, VC_LENGTH + 6)
    cipher.apply(out)
    return out
  }

  const runPhase = (sent: Array<Uint8Array>): PhaseResult => {
    switch (phase) {
      case "key": {
        const s = receiveSecret(inbox, p.privateKey)
        if (!(s instanceof Uint8Array)) return s
        secret = s
        sync = req1(s)
        sent.push(keyMessage(p.privateKey, p.padB))
        phase = "req1"
        return "next"
      }
      case "req1": {
        const found = syncTo(inbox, sync, `no synchronisation hash within ${Dh.KEY_LENGTH + MAX_PAD + 20} bytes`)
        if (found !== "next") return found
        phase = "skey"
        return "next"
      }
      case "skey": {
        if (inbox.length < 20) return "wait"
        const found = p.findSkey(revealReq2(inbox.take(20), secret))
        if (found === undefined) return mseError("UnknownTorrent", "the peer asked for a torrent we do not serve")
        skey = found
        decrypt = makeMseCipher(keyA(secret, skey))
        encrypt = makeMseCipher(keyB(secret, skey))
        phase = "provide"
        return "next"
      }
      case "provide": {
        const header = inbox.takeDecrypted(VC_LENGTH + 6, decrypt)
        if (header === undefined) return "wait"
        for (let i = 0; i < VC_LENGTH; i++) {
          if (header[i] !== 0) return mseError("BadVerification", "the verification constant is not zero")
        }
        const v = view(header)
        const provide = v.getUint32(VC_LENGTH)
        selected = p.select(provide)
        if (selected === 0) return mseError("NoCommonMethod", `the peer offers crypto methods 0x${provide.toString(16)}, none of which we allow`)
        padC = v.getUint16(VC_LENGTH + 4)
        if (padC > MAX_PAD) return mseError("BadPadding", `PadC of ${padC} bytes (at most ${MAX_PAD})`)
        phase = "padC"
        return "next"
      }
      case "padC": {
        const rest = inbox.takeDecrypted(padC + 2, decrypt)
        if (rest === undefined) return "wait"
        iaLength = view(rest).getUint16(padC)
        phase = "ia"
        return "next"
      }
      case "ia": {
        // both ciphers exist since the "skey" phase
        if (decrypt === undefined || encrypt === undefined) return "wait"
        const ia = inbox.takeDecrypted(iaLength, decrypt)
        if (ia === undefined) return "wait"
        sent.push(step4(selected, encrypt))
        phase = "done"
        const rc4 = selected === CRYPTO_RC4
        const after = inbox.rest()
        if (rc4) decrypt.apply(after)
        const initial = ia.length === 0 ? after : after.length === 0 ? ia : Buffer.concat([ia, after])
        return {
          method: rc4 ? "rc4" : "plaintext",
          skey,
          encrypt: rc4 ? encrypt : null,
          decrypt: rc4 ? decrypt : null,
          initial
        }
      }
      case "done":
        return "wait"
    }
  }

  return makeMachine(inbox, runPhase, () => phaseNames[phase])
}
