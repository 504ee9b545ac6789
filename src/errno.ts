/**
 * Node's system errors: the errno code (`ENOSPC`, `EADDRINUSE`…) that tells them apart, and a
 * one-line description for a typed error's detail. One home for the sockets and the storage.
 */

/** The `code` of a Node system error (`"ECONNRESET"`), or undefined for anything else. */
export const errnoOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

/** The error's message, led by its errno code when the message does not already name it. */
export const describeCause = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const code = errnoOf(cause)
  return code !== undefined && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message
}
