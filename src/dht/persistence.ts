/**
 * The DHT state file: our node id and the routing table's nodes, written atomically
 * (a temp file renamed over the old one) and read back on start. A missing or corrupt
 * file means a fresh start, never a failure.
 */
import { Effect, FileSystem, Result } from "effect"
import { decodeState, type DhtState, encodeState } from "./state.ts"

export const loadState = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, path: string) {
  const bytes = yield* fs.readFile(path).pipe(Effect.option)
  if (bytes._tag === "None") return undefined
  const state = decodeState(bytes.value)
  if (Result.isFailure(state)) {
    yield* Effect.logWarning(`dht: ignoring state file ${path}: ${state.failure}`)
    return undefined
  }
  return state.success
})

/** Never fails: a state file that cannot be written is logged. */
export const saveState = (fs: FileSystem.FileSystem, path: string, state: DhtState): Effect.Effect<void> =>
  Effect.gen(function*() {
    const tmp = `${path}.tmp`
    yield* fs.writeFile(tmp, encodeState(state))
    yield* fs.rename(tmp, path)
  }).pipe(Effect.catchCause((cause) => Effect.logWarning("dht: saving state failed", cause)))
