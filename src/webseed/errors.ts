import { Schema } from "effect"

/**
 * Why a web seed request failed.
 *
 * - `Status`: a reply other than 2xx (after redirects); `retryAfterMillis` when the server
 *   said when to come back (`Retry-After`, or a BEP 17 503 body).
 * - `Timeout`: no reply, or no bytes for too long.
 * - `ContentRange`: a 206 whose `Content-Range` is not the range we asked for: the request is
 *   dropped.
 * - `Body`: more or fewer bytes than asked for.
 * - `NoRange`: the server ignored the `Range` header on part of a file.
 * - `Network`: the connection failed.
 */
export const WebSeedErrorReason = Schema.Literals(["Status", "Timeout", "ContentRange", "Body", "NoRange", "Network"])
export type WebSeedErrorReason = typeof WebSeedErrorReason.Type

export class WebSeedError extends Schema.TaggedError<WebSeedError>()("WebSeedError", {
  reason: WebSeedErrorReason,
  url: Schema.String,
  detail: Schema.String,
  retryAfterMillis: Schema.optionalKey(Schema.Number)
}) {
  override get message(): string {
    return `web seed ${this.url}: ${this.detail}`
  }
}
