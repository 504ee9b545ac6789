/**
 * A decoded bencode value.
 *
 * - integers: JS `number`, always a safe integer (the decoder rejects |n| > 2^53-1
 *   with `IntegerOutOfRange`: no BitTorrent field needs more, and it keeps every
 *   consumer free of bigint);
 * - byte strings: `Uint8Array` (use `utf8()` / `text()` to convert);
 * - lists: arrays;
 * - dicts: plain objects whose keys are *binary strings*: one char per byte
 *   (U+0000..U+00FF). ASCII keys ("announce", "ut_metadata") read naturally;
 *   binary keys (BEP 52 `piece layers`) and non-ASCII keys (file tree names)
 *   convert with `keyBytes()` / `keyFromBytes()` / `keyText()` / `keyFromText()`.
 *   Decoded dicts have a null prototype; read them with `Object.hasOwn` or the
 *   accessors in access.ts, never `key in dict`.
 *   JS key iteration order is NOT the encoded order (integer-like keys such as
 *   "10" come first); where order matters use `Object.keys(d).sort()`, which is
 *   byte order for binary-string keys.
 */
export type BencodeValue = number | Uint8Array | ReadonlyArray<BencodeValue> | BencodeDict

export type BencodeDict = { readonly [key: string]: BencodeValue }
