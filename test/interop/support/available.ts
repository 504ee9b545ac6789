/**
 * Which reference clients this machine has. A test whose client is missing is skipped
 * locally with a warning naming the Debian package; in CI it fails instead (see
 * test/support/requirements.ts), and .ci/run installs every one of them.
 */
import { requirement } from "../../support/requirements.ts"
import { hasBinary, hasPythonLibtorrent } from "./process.ts"

const apt = (pkg: string) => `apt-get install -y ${pkg}`

/** One requirement per reference client, for `liveWith(installed.aria2, ...)`. */
export const installed = {
  libtorrent: requirement(hasPythonLibtorrent(), "python3-libtorrent (/usr/bin/python3 -c 'import libtorrent')", apt("python3-libtorrent")),
  aria2: requirement(hasBinary("/usr/bin/aria2c"), "aria2c", apt("aria2")),
  transmission: requirement(hasBinary("/usr/bin/transmission-cli"), "transmission-cli", apt("transmission-cli")),
  transmissionRemote: requirement(hasBinary("/usr/bin/transmission-remote"), "transmission-remote", apt("transmission-cli")),
  chromium: requirement(hasBinary("/usr/bin/chromium"), "chromium", apt("chromium")),
  mktorrent: requirement(hasBinary("/usr/bin/mktorrent"), "mktorrent", apt("mktorrent")),
  opentracker: requirement(hasBinary("/usr/bin/opentracker"), "opentracker", apt("opentracker"))
} as const
