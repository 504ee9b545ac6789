/**
 * The trace file of a real run: whole lines only, written in 256 KiB appends and at least
 * once a second (so a killed run leaves a valid file up to its last complete line), the rest
 * when its scope closes.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { openTraceFile, readTrace } from "../src/trace/index.ts"
import { tempDir } from "./support/files.ts"
import { waitUntil } from "./support/waiting.ts"

const line = (i: number) => `{"t":${i},"peer":{"addr":"127.0.0.1:${1000 + (i % 50)}"},"dir":"in","ev":{"type":"Have","index":${i}}}`
const size = (path: string) => statSync(path).size

describe("trace file", () => {
  it.live("whole lines: a 256 KiB batch goes out at once, a lone line within a second, the rest on close", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir(), "t.jsonl")
      const scope = yield* Scope.make()
      const sink = yield* openTraceFile(path).pipe(Scope.provide(scope), Effect.provide(NodeFileSystem.layer))
      sink.write(line(0))
      // the timer: at least once a second
      yield* waitUntil("the lone line to reach the file", () => size(path) > 0, 3)
      assert.strictEqual(readFileSync(path, "utf8"), `${line(0)}\n`)
      // more lines keep reaching the file while the run goes on, always whole
      let i = 1
      while (size(path) === line(0).length + 1 && i < 5000) {
        for (let k = 0; k < 500; k++) sink.write(line(i++))
        yield* Effect.yieldNow
      }
      // The size moves while a batch is being written (one append can reach the disk in
      // parts), so wait for it to end; that takes far less than the second after which the
      // timer would flush a line a faulty writer had left half written.
      yield* waitUntil("the batch to end with a whole line", () => readFileSync(path, "utf8").endsWith("\n"), 0.5)
      const text = readFileSync(path, "utf8")
      const partial = readTrace(text)
      assert.deepStrictEqual(partial.bad, [])
      assert.isFalse(partial.torn)
      sink.write(line(i))
      yield* Scope.close(scope, Exit.void)
      const all = readTrace(readFileSync(path, "utf8"))
      assert.strictEqual(all.lines.length, i + 1)
      assert.deepStrictEqual(all.lines.map((l) => l.t), Array.from({ length: i + 1 }, (_, k) => k))
    }))
})
