/**
 * BEP 9 `ut_metadata` messages: a bencoded dict, followed (for `data`) by the raw bytes
 * of one 16 KiB piece of the info dict. Pure codec.
 */
import { Result } from "effect"
import { decodePrefix, encode, getInt, isDict } from "../bencode/index.ts"
import { WireError } from "./errors.ts"

/** Metadata is exchanged in pieces of this size (the last one may be shorter). */
export const METADATA_PIECE_SIZE = 16 * 1024

export type UtMetadataMessage =
  | { readonly _tag: "Request"; readonly piece: number }
  | { readonly _tag: "Data"; readonly piece: number; readonly totalSize: number; readonly data: Uint8Array }
  | { readonly _tag: "Reject"; readonly piece: number }
  /** BEP 9: a msg_type we do not know is ignored, not an error (future message types). */
  | { readonly _tag: "Unknown"; readonly msgType: number }

const fail = (message: string) =>
  Result.fail(new WireError({ reason: "BadExtensionMessage", messageId: 20, message: `ut_metadata: ${message}` }))

/** Decodes one message. `Data.data` is a view of `payload`, never larger than one piece. */
export const decodeUtMetadata = (payload: Uint8Array): Result.Result<UtMetadataMessage, WireError> => {
  const decoded = decodePrefix(payload, { maxDepth: 4, maxElements: 64 })
  if (Result.isFailure(decoded)) return fail(`not valid bencode: ${decoded.failure.message}`)
  const dict = decoded.success.value
  if (!isDict(dict)) return fail("expected a dict")
  const type = getInt(dict, "msg_type")
  const piece = getInt(dict, "piece")
  if (piece === undefined || piece < 0) return fail("missing or negative piece")
  const rest = payload.subarray(decoded.success.end)
  switch (type) {
    case 0:
      return Result.succeed({ _tag: "Request", piece })
    case 1: {
      const totalSize = getInt(dict, "total_size")
      if (totalSize === undefined || totalSize <= 0) return fail("data without a positive total_size")
      if (rest.length === 0 || rest.length > METADATA_PIECE_SIZE) return fail(`data piece of ${rest.length} bytes`)
      return Result.succeed({ _tag: "Data", piece, totalSize, data: rest })
    }
    case 2:
      return Result.succeed({ _tag: "Reject", piece })
    default:
      return type === undefined ? fail("missing msg_type") : Result.succeed({ _tag: "Unknown", msgType: type })
  }
}

/** The payload of an extended message (without the extended id byte). */
export const encodeUtMetadata = (m: UtMetadataMessage): Uint8Array => {
  switch (m._tag) {
    case "Request":
      return encode({ msg_type: 0, piece: m.piece })
    case "Reject":
      return encode({ msg_type: 2, piece: m.piece })
    case "Unknown":
      return encode({ msg_type: m.msgType, piece: 0 })
    case "Data": {
      const head = encode({ msg_type: 1, piece: m.piece, total_size: m.totalSize })
      const out = new Uint8Array(head.length + m.data.length)
      out.set(head)
      out.set(m.data, head.length)
      return out
    }
  }
}

/** Number of metadata pieces for an info dict of `size` bytes. */
export const metadataPieceCount = (size: number): number => Math.ceil(size / METADATA_PIECE_SIZE)
