/**
 * The persisted routing tables: a bencoded dict `{ id: <20 bytes>, nodes: <compact 26-byte
 * nodes>, nodes6: <compact 38-byte nodes> }` (BEP 32's node lists; `nodes6` is absent from
 * files written before the IPv6 DHT, which load as they are). Decoding is as strict and
 * bounded as for network input: the file may be corrupt or from another program.
 */
import { Result } from "effect"
import { decode, encode, getBytes, getField, isDict } from "../bencode/index.ts"
import { decodeNodes, encodeNodes, NODE6_LENGTH, NODE_LENGTH, type NodeInfo } from "./compact.ts"
import { ID_LENGTH } from "./id.ts"

export interface DhtState {
  readonly id: Uint8Array
  /** IPv4 nodes. */
  readonly nodes: ReadonlyArray<NodeInfo>
  /** IPv6 nodes (empty when the file had none). */
  readonly nodes6?: ReadonlyArray<NodeInfo>
}

/** 160 buckets of 8 would be 1280 per family; anything larger is not ours. */
export const MAX_STATE_NODES = 2048
export const MAX_STATE_BYTES = MAX_STATE_NODES * (NODE_LENGTH + NODE6_LENGTH) + 256

export const encodeState = (state: DhtState): Uint8Array =>
  encode({
    id: state.id,
    nodes: encodeNodes(state.nodes.slice(0, MAX_STATE_NODES), 4),
    ...(state.nodes6 === undefined ? {} : { nodes6: encodeNodes(state.nodes6.slice(0, MAX_STATE_NODES), 6) })
  })

export const decodeState = (bytes: Uint8Array): Result.Result<DhtState, string> => {
  if (bytes.length > MAX_STATE_BYTES) return Result.fail(`state file of ${bytes.length} bytes is too large`)
  const value = decode(bytes, { maxDepth: 2, maxElements: 16 })
  if (Result.isFailure(value)) return Result.fail(value.failure.message)
  if (!isDict(value.success)) return Result.fail("state is not a dict")
  const id = getBytes(value.success, "id")
  const nodes = getBytes(value.success, "nodes")
  if (id === undefined || id.length !== ID_LENGTH) return Result.fail("state has no valid id")
  if (nodes === undefined || nodes.length % NODE_LENGTH !== 0) return Result.fail("state has no valid nodes")
  if (getField(value.success, "nodes6") === undefined) return Result.succeed({ id, nodes: decodeNodes(nodes, 4) })
  const nodes6 = getBytes(value.success, "nodes6")
  if (nodes6 === undefined || nodes6.length % NODE6_LENGTH !== 0) return Result.fail("state has invalid nodes6")
  return Result.succeed({ id, nodes: decodeNodes(nodes, 4), nodes6: decodeNodes(nodes6, 6) })
}
