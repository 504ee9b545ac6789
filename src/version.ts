/**
 * Who we are, in the one place that says it: the version (kept equal to package.json's,
 * which test/create.test.ts checks) and every form other programs see it in.
 *
 * **When to use**
 *
 * Anywhere the client names itself: the CLI's `--version`, a torrent's `created by`, the
 * extended handshake's `v`, the peer-id prefix. Never write the version anywhere else.
 *
 * **Example**
 *
 * ```ts
 * import { CLIENT_VERSION } from "./version.ts"
 * // "effect-torrent 0.1.0"
 * ```
 */

/** The version, as in package.json. */
export const VERSION = "0.1.0"

export const CLIENT_NAME = "effect-torrent"

/** `effect-torrent 0.1.0`: the client name and version of BEP 10's `v`. */
export const CLIENT_VERSION = `${CLIENT_NAME} ${VERSION}`

/** `effect-torrent/0.1.0`: a created torrent's `created by`. */
export const CREATED_BY = `${CLIENT_NAME}/${VERSION}`

const digit = (part: string | undefined): string => {
  const n = Number(part ?? 0)
  // Azureus style has one character per component: 0-9, then A-Z for 10-35.
  return Number.isInteger(n) && n >= 0 && n < 36 ? n.toString(36).toUpperCase() : "0"
}

/**
 * BEP 20 (Azureus style) peer-id prefix: `-ET` + major, minor, patch and build as one
 * character each + `-`, so `0.1.0` is `-ET0100-`.
 */
export const PEER_ID_PREFIX = (() => {
  const [major, minor, patch] = VERSION.split(".")
  return `-ET${digit(major)}${digit(minor)}${digit(patch)}0-`
})()
