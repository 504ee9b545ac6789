import { MetainfoError, type MetainfoErrorReason } from "./errors.ts"

/**
 * The parser is a plain synchronous function; validation failures unwind with
 * `Invalid` and are turned into a `MetainfoError` at the single entry point
 * (`catchInvalid`). `Invalid` never escapes this folder.
 */
export class Invalid {
  readonly reason: MetainfoErrorReason
  readonly message: string
  constructor(reason: MetainfoErrorReason, message: string) {
    this.reason = reason
    this.message = message
  }
}

export const invalid = (reason: MetainfoErrorReason, message: string): never => {
  throw new Invalid(reason, message)
}

export const toMetainfoError = (e: unknown): MetainfoError =>
  e instanceof Invalid
    ? new MetainfoError({ reason: e.reason, message: e.message })
    // engine limits (e.g. out of memory on a hostile file) still become a typed error
    : new MetainfoError({ reason: "LimitExceeded", message: `torrent rejected: ${String(e)}` })
