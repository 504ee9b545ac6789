import { Result } from "effect"
import { decodePrefix, type DecodeOptions, type Span } from "./decode.ts"
import { BencodeError } from "./error.ts"

/**
 * The exact bytes of a top-level dict entry's value, as they appear in the
 * input (a view, not a copy). This is how the info-hash must be computed:
 * over the original bytes, never a re-encoding (keys may be unsorted).
 */
export const rawDictValue = (
  bytes: Uint8Array,
  key: string,
  options: DecodeOptions = {}
): Result.Result<{ readonly span: Span; readonly raw: Uint8Array }, BencodeError> =>
  Result.flatMap(decodePrefix(bytes, options), (d) => {
    const span = d.topLevelSpans.get(key)
    return span === undefined
      ? Result.fail(
        new BencodeError({ reason: "MissingField", message: `no top-level ${JSON.stringify(key)} entry`, position: -1 })
      )
      : Result.succeed({ span, raw: bytes.subarray(span.start, span.end) })
  })

/** Byte span of the top-level `info` value of a .torrent file. */
export const infoSpan = (bytes: Uint8Array, options: DecodeOptions = {}): Result.Result<Span, BencodeError> =>
  Result.map(rawDictValue(bytes, "info", options), (r) => r.span)
