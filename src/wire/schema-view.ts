/**
 * The Schema view of a byte codec whose decoder returns a `Result` (the frame codec, the
 * extended handshake): encoded side the bytes, type side `to`. A decode failure becomes a
 * schema issue carrying the codec error's message; encoding cannot fail.
 */
import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"

export const bytesView = <S extends Schema.Top>(
  to: S,
  decode: (bytes: Uint8Array) => Result.Result<S["Encoded"], { readonly message: string }>,
  encode: (value: S["Encoded"]) => Uint8Array
) =>
  Schema.Uint8Array.pipe(
    Schema.decodeTo(
      to,
      SchemaTransformation.transformEffect({
        decode: (bytes: Uint8Array) => {
          const r = decode(bytes)
          return Result.isSuccess(r)
            ? Effect.succeed(r.success)
            : Effect.fail(new SchemaIssue.InvalidValue({ message: r.failure.message }, bytes))
        },
        encode: (value: S["Encoded"]) => Effect.succeed(encode(value))
      })
    )
  )
