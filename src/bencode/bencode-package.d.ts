// Types for the `bencode` npm package (v4 ships none). We only use it as a test
// oracle; see decode.ts for why our own decoder/encoder handle real input.
declare module "bencode" {
  type Value = number | Uint8Array | string | ReadonlyArray<Value> | { readonly [key: string]: Value }
  interface Decode {
    (data: Uint8Array, start?: number, end?: number): unknown
    (data: Uint8Array, encoding: "utf8" | "utf-8"): unknown
  }
  interface Encode {
    (data: unknown): Uint8Array
    bytes: number
  }
  const bencode: {
    readonly encode: Encode
    readonly decode: Decode
    readonly byteLength: (value: unknown) => number
    readonly encodingLength: (value: unknown) => number
  }
  export default bencode
}
