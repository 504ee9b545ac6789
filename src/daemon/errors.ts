import { Schema } from "effect"

/**
 * What the daemon's operations fail with: the state directory could not be read or
 * written (`State`), a torrent is unknown (`NotFound`), a request is invalid (`BadRequest`), the torrent is already there (`Duplicate`),
 * the client refused (`Client`: a bad torrent, a duplicate, storage), or the server could
 * not start as asked (`Config`: a public bind without --auth, say).
 */
export class DaemonError extends Schema.TaggedError<DaemonError>()("DaemonError", {
  reason: Schema.Literals(["State", "NotFound", "BadRequest", "Duplicate", "Client", "Config"]),
  detail: Schema.String,
  /** The torrent concerned (a `Duplicate`'s existing torrent). */
  infoHash: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.detail
  }
}
