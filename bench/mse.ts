/**
 * `npm run bench:mse`: the costs of MSE/PE on one core, measured in CPU time (the machine is
 * shared: wall time would measure the neighbours).
 *
 *   node bench/mse.ts [--rounds 7] [--no-record]
 *
 * - keygen: one 160-bit private exponent turned into a public value (`publicKey`), and one
 *   shared secret (`sharedSecret`); for comparison, a fresh full-size key pair the way most
 *   Node implementations make it (`createDiffieHellman(prime, 2).generateKeys()`).
 * - RC4: MiB/s over 64 KiB chunks, in place (the receive path) and into a new buffer (the send
 *   path), after the 1024-byte discard.
 * - handshakes: complete MSE handshakes per second, both ends run by this one process with
 *   the pure machines (key generation, both secrets, the scans, 68-byte IA): the cost of an
 *   incoming connection is about half of one.
 * Rounds alternate between the measurements; medians are reported and appended to
 * bench/RESULTS.md.
 */
import { createDiffieHellman, randomBytes } from "node:crypto"
import { appendFileSync } from "node:fs"
import { cpus } from "node:os"
import { join } from "node:path"
import {
  makeInitiator,
  makeMseCipher,
  makeResponder,
  PRIME_HEX,
  provideFor,
  publicKey,
  req2,
  selectFor,
  sharedSecret
} from "../src/mse/index.ts"

const args = process.argv.slice(2)
const rounds = Number(args[args.indexOf("--rounds") + 1]) > 0 && args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : 7
const record = !args.includes("--no-record")

const cpu = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
/** CPU seconds `f` takes. */
const timed = (f: () => void): number => {
  const start = cpu()
  f()
  return cpu() - start
}
const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const key = () => Uint8Array.from(randomBytes(20))
const SKEY = key()
const IA = new Uint8Array(68)
const index = new Map([[Buffer.from(req2(SKEY)).toString("hex"), SKEY]])

const measures: Record<string, { readonly unit: string; readonly run: () => number }> = {
  "keygen (publicKey, 160-bit exponent)": {
    unit: "ms",
    run: () => {
      const keys = Array.from({ length: 400 }, key)
      return (timed(() => { for (const k of keys) publicKey(k) }) / keys.length) * 1000
    }
  },
  "shared secret (160-bit exponent)": {
    unit: "ms",
    run: () => {
      const theirs = publicKey(key())
      const keys = Array.from({ length: 400 }, key)
      return (timed(() => { for (const k of keys) sharedSecret(k, theirs) }) / keys.length) * 1000
    }
  },
  "full-size key pair (createDiffieHellman + generateKeys)": {
    unit: "ms",
    run: () => timed(() => { for (let i = 0; i < 5; i++) createDiffieHellman(Buffer.from(PRIME_HEX, "hex"), Buffer.from([2])).generateKeys() }) / 5 * 1000
  },
  "RC4 in place, 64 KiB chunks": {
    unit: "MiB/s",
    run: () => {
      const rc4 = makeMseCipher(key())
      const chunk = Buffer.alloc(65536)
      const total = 128 << 20
      return total / 2 ** 20 / timed(() => { for (let n = 0; n < total; n += chunk.length) rc4.apply(chunk) })
    }
  },
  "RC4 into a new buffer, 64 KiB chunks": {
    unit: "MiB/s",
    run: () => {
      const rc4 = makeMseCipher(key())
      const chunk = Buffer.alloc(65536)
      const total = 128 << 20
      return total / 2 ** 20 / timed(() => {
        for (let n = 0; n < total; n += chunk.length) rc4.applyTo(chunk, Buffer.allocUnsafe(chunk.length), 0)
      })
    }
  },
  "handshakes, both ends in one process": {
    unit: "/s",
    run: () => {
      const count = 300
      const seconds = timed(() => {
        for (let i = 0; i < count; i++) {
          const a = makeInitiator({ privateKey: key(), padA: new Uint8Array(i % 513), padC: new Uint8Array(0), skey: SKEY, provide: provideFor("prefer"), ia: IA })
          const b = makeResponder({ privateKey: key(), padB: new Uint8Array((i * 7) % 513), padD: new Uint8Array(0), findSkey: (h) => index.get(Buffer.from(h).toString("hex")), select: selectFor("prefer") })
          const step2 = b.receive(a.opening)
          if (step2._tag !== "Continue") throw new Error("responder did not answer")
          const step3 = a.machine.receive(Buffer.concat(step2.send))
          if (step3._tag !== "Continue") throw new Error("initiator did not continue")
          const step4 = b.receive(Buffer.concat(step3.send))
          if (step4._tag !== "Done") throw new Error("responder did not finish")
          if (a.machine.receive(Buffer.concat(step4.send))._tag !== "Done") throw new Error("initiator did not finish")
        }
      })
      return count / seconds
    }
  }
}

// warm-up, then alternating rounds
for (const m of Object.values(measures)) m.run()
const samples: Record<string, Array<number>> = {}
for (let r = 0; r < rounds; r++) {
  const names = Object.keys(measures)
  for (const name of r % 2 === 0 ? names : names.reverse()) (samples[name] ??= []).push(measures[name]?.run() ?? 0)
}

const fmt = (v: number, unit: string) => (unit === "ms" ? v.toFixed(3) : v.toFixed(0))
const lines = [
  `## ${new Date().toISOString()}: MSE/PE costs (bench/mse.ts), ${rounds} rounds`,
  "",
  `Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}; CPU time of this process, medians (min..max).`,
  "",
  "| measure | median | range |",
  "|---|---:|---:|",
  ...Object.entries(samples).map(([name, xs]) => {
    const unit = measures[name]?.unit ?? ""
    return `| ${name} | ${fmt(median(xs), unit)} ${unit} | ${fmt(Math.min(...xs), unit)}..${fmt(Math.max(...xs), unit)} |`
  }),
  ""
]
console.log(lines.join("\n"))
if (record) {
  appendFileSync(join(new URL(".", import.meta.url).pathname, "RESULTS.md"), `\n${lines.join("\n")}`)
  console.log("appended to bench/RESULTS.md")
}
