/**
 * The parts of a DHT node on their own: answering queries (server.ts, a pure core) and the
 * state file (persistence.ts, on a real file system).
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Result } from "effect"
import type { NodeInfo } from "../src/dht/compact.ts"
import { idKey } from "../src/dht/id.ts"
import { decodeMessage, encodeQuery, ErrorCode, type KrpcQuery, type QueryBody } from "../src/dht/krpc.ts"
import { loadState, saveState } from "../src/dht/persistence.ts"
import { makePeerStore, peersFor } from "../src/dht/peer-store.ts"
import { answerQuery, type AnswerContext, makeCounters } from "../src/dht/server.ts"
import * as Token from "../src/dht/token.ts"

const id = (n: number) => new Uint8Array(20).fill(n)
const ownId = id(1)
const infoHash = id(9)
const asker = { host: "10.0.0.5", port: 7000 }
const known: ReadonlyArray<NodeInfo> = [{ id: id(2), address: { host: "10.0.0.2", port: 6881 } }]

const context = (): AnswerContext => ({
  ownId,
  store: makePeerStore(),
  secrets: Token.initialSecrets(new Uint8Array(20).fill(7), 0),
  closest: () => known,
  counters: makeCounters()
})

const query = (body: QueryBody): KrpcQuery => {
  const decoded = decodeMessage(encodeQuery(Uint8Array.of(0, 1), id(3), body))
  if (Result.isFailure(decoded) || decoded.success._tag !== "Query") throw new Error("bad query")
  return decoded.success
}

const answer = (ctx: AnswerContext, body: QueryBody, from = asker) => {
  const decoded = decodeMessage(answerQuery(ctx, query(body), from, 1000))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

describe("DHT server core", () => {
  it("ping and find_node answer with our id (and the closest nodes we know)", () => {
    const ctx = context()
    const pong = answer(ctx, { method: "ping" })
    assert.isTrue(pong._tag === "Response" && pong.id.every((b) => b === 1))
    const found = answer(ctx, { method: "find_node", target: id(2) })
    assert.isTrue(found._tag === "Response")
    if (found._tag === "Response") assert.deepStrictEqual(found.nodes, known)
  })

  it("get_peers gives a token for the asker's IP; announce_peer with it stores the peer, with a wrong one is refused", () => {
    const ctx = context()
    const got = answer(ctx, { method: "get_peers", infoHash })
    if (got._tag !== "Response" || got.token === undefined) return assert.fail("no token")
    assert.deepStrictEqual(got.values, [], "nobody announced yet")
    const refused = answer(ctx, { method: "announce_peer", infoHash, port: 9000, impliedPort: false, token: got.token }, {
      host: "10.0.0.6",
      port: 7000
    })
    assert.isTrue(refused._tag === "Error" && refused.code === ErrorCode.Protocol)
    assert.strictEqual(ctx.counters.announcesRejected, 1)
    const stored = answer(ctx, { method: "announce_peer", infoHash, port: 9000, impliedPort: true, token: got.token })
    assert.strictEqual(stored._tag, "Response")
    assert.deepStrictEqual(peersFor(ctx.store, idKey(infoHash), 1000), [asker], "implied_port: the source port")
    const again = answer(ctx, { method: "get_peers", infoHash }, { host: "10.0.0.7", port: 1 })
    assert.isTrue(again._tag === "Response" && again.values.length === 1)
  })
})

describe("DHT state file", () => {
  it.effect("saves atomically and loads back; a corrupt or missing file is a fresh start", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/dht.state`
      assert.isUndefined(yield* loadState(fs, path))
      yield* saveState(fs, path, { id: ownId, nodes: known })
      assert.isFalse(yield* fs.exists(`${path}.tmp`))
      const loaded = yield* loadState(fs, path)
      assert.deepStrictEqual(loaded, { id: ownId, nodes: known })
      yield* fs.writeFileString(path, "d2:idi3ee")
      assert.isUndefined(yield* loadState(fs, path))
      // a directory that does not exist: logged, never a failure
      yield* saveState(fs, `${dir}/missing/dht.state`, { id: ownId, nodes: [] })
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
