import { MetainfoError, type MetainfoErrorReason } from "./errors.ts"

/**
 * The parser is a plain synchronous function; validation failures unwind with
 * `Invalid` and are turned into a `MetainfoError` at the entry points
 * (`toMetainfoError`). `Invalid` never escapes this folder. Anything else thrown is a bug
 * in the parser, not a property of the torrent: it is rethrown and stays a defect.
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

export const toMetainfoError = (e: unknown): MetainfoError => {
  if (e instanceof Invalid) return new MetainfoError({ reason: e.reason, message: e.message })
  throw e
}
