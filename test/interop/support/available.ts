/**
 * Which reference clients this machine has. A test whose client is missing is skipped with
 * a warning naming the Debian package; CI installs every one of them.
 */
import { hasBinary, hasPythonLibtorrent, warnMissing } from "./process.ts"

export const hasLibtorrent = warnMissing(hasPythonLibtorrent(), "python3-libtorrent (/usr/bin/python3 -c 'import libtorrent')", "python3-libtorrent")
export const hasAria2 = warnMissing(hasBinary("/usr/bin/aria2c"), "aria2c", "aria2")
export const hasTransmission = warnMissing(hasBinary("/usr/bin/transmission-cli"), "transmission-cli", "transmission-cli")
export const hasMktorrent = warnMissing(hasBinary("/usr/bin/mktorrent"), "mktorrent", "mktorrent")
export const hasOpentracker = warnMissing(hasBinary("/usr/bin/opentracker"), "opentracker", "opentracker")
