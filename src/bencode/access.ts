/**
 * Small typed readers for decoded bencode. `get*` return `undefined` when the
 * field is absent or has another type; `expect*` return a `Result` with a
 * `BencodeError` (reason MissingField / WrongType) naming the field.
 */
import { Result } from "effect"
import { latin1 } from "../bytes.ts"
import { keyToBytes } from "./encode.ts"
import { BencodeError } from "./error.ts"
import type { BencodeDict, BencodeValue } from "./value.ts"

export const isInt = (v: BencodeValue | undefined): v is number => typeof v === "number"
export const isBytes = (v: BencodeValue | undefined): v is Uint8Array => v instanceof Uint8Array
export const isList = (v: BencodeValue | undefined): v is ReadonlyArray<BencodeValue> => Array.isArray(v)
export const isDict = (v: BencodeValue | undefined): v is BencodeDict =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

/** Own-property lookup (safe for keys like `__proto__` or `constructor`). */
export const getField = (dict: BencodeDict, key: string): BencodeValue | undefined =>
  Object.hasOwn(dict, key) ? dict[key] : undefined

export const getInt = (dict: BencodeDict, key: string): number | undefined => {
  const v = getField(dict, key)
  return isInt(v) ? v : undefined
}
export const getBytes = (dict: BencodeDict, key: string): Uint8Array | undefined => {
  const v = getField(dict, key)
  return isBytes(v) ? v : undefined
}
export const getList = (dict: BencodeDict, key: string): ReadonlyArray<BencodeValue> | undefined => {
  const v = getField(dict, key)
  return isList(v) ? v : undefined
}
export const getDict = (dict: BencodeDict, key: string): BencodeDict | undefined => {
  const v = getField(dict, key)
  return isDict(v) ? v : undefined
}
/** A byte-string field decoded as UTF-8; `undefined` if absent, not a string, or not valid UTF-8. */
export const getString = (dict: BencodeDict, key: string): string | undefined => {
  const v = getBytes(dict, key)
  return v === undefined ? undefined : utf8(v)
}

const typeName = (v: BencodeValue): string =>
  isInt(v) ? "integer" : isBytes(v) ? "byte string" : isList(v) ? "list" : "dict"

const expectWith = <A>(what: string, check: (v: BencodeValue) => v is BencodeValue & A) =>
(dict: BencodeDict, key: string): Result.Result<A, BencodeError> => {
  const v = getField(dict, key)
  if (v === undefined) {
    return Result.fail(new BencodeError({ reason: "MissingField", message: `missing field ${JSON.stringify(key)}`, position: -1 }))
  }
  if (!check(v)) {
    return Result.fail(
      new BencodeError({
        reason: "WrongType",
        message: `field ${JSON.stringify(key)} should be ${what}, found ${typeName(v)}`,
        position: -1
      })
    )
  }
  return Result.succeed(v)
}

export const expectInt = expectWith<number>("an integer", isInt)
export const expectBytes = expectWith<Uint8Array>("a byte string", isBytes)
export const expectList = expectWith<ReadonlyArray<BencodeValue>>("a list", isList)
export const expectDict = expectWith<BencodeDict>("a dict", isDict)

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const textEncoder = new TextEncoder()

/** Strict UTF-8 decoding; `undefined` for invalid UTF-8. */
export const utf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}
/** UTF-8 encoding of a JS string. */
export const text = (s: string): Uint8Array => textEncoder.encode(s)

/** Raw bytes of a dict key (keys are binary strings, one char per byte). */
export const keyBytes = (key: string): Uint8Array => keyToBytes(key)
/** Dict key for raw bytes, e.g. a 32-byte pieces root in `piece layers`. */
export const keyFromBytes = (bytes: Uint8Array): string => latin1(bytes)
/** A dict key read as UTF-8 text (file tree names); `undefined` if not valid UTF-8. */
export const keyText = (key: string): string | undefined => {
  // An ASCII key is its own UTF-8 decoding: skip the encoder (hot: every extended-handshake key).
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return utf8(keyToBytes(key))
  return key
}
/** Dict key for a text name (UTF-8 encoded), e.g. a BEP 52 file tree entry. */
export const keyFromText = (s: string): string => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return latin1(textEncoder.encode(s))
  return s
}
