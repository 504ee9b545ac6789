/**
 * Bencode (BEP 3): strict, bounded decoding and canonical encoding.
 * Value representation and dict-key convention: see value.ts.
 */
export {
  expectBytes,
  expectDict,
  expectInt,
  expectList,
  getBytes,
  getDict,
  getField,
  getInt,
  getList,
  getString,
  isBytes,
  isDict,
  isInt,
  isList,
  keyBytes,
  keyFromBytes,
  keyFromText,
  keyText,
  text,
  utf8
} from "./access.ts"
export {
  decode,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_ELEMENTS,
  decodePrefix,
  type Decoded,
  type DecodeOptions,
  type Span
} from "./decode.ts"
export { type Encodable, encode } from "./encode.ts"
export { BencodeError, BencodeErrorReason } from "./error.ts"
export { infoSpan, rawDictValue } from "./span.ts"
export type { BencodeDict, BencodeValue } from "./value.ts"
