import { Schema } from "effect"

/**
 * What `Client.add` and friends can fail with, each with a one-line message fit for a
 * terminal: the torrent source was unreadable or invalid, it is already added, it is not
 * there (NotFound), or its storage could not be opened.
 */
export class ClientError extends Schema.TaggedError<ClientError>()("ClientError", {
  reason: Schema.Literals(["BadTorrent", "Unreadable", "Duplicate", "Storage", "Listen", "Unsupported", "NotFound"]),
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}
