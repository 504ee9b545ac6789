/** Text from elsewhere made safe to print on one line. Pure. (Sizes, rates, durations: units.ts.) */

/** A value on one line: control characters (from a torrent someone else wrote) are escaped. */
export const oneLine = (s: string): string =>
  // eslint-disable-next-line no-control-regex
  s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
