import { Schema } from "effect"

/**
 * What the client and `Client.add` can fail with, each with a one-line message fit for a
 * terminal:
 * - `Unreadable`: the .torrent file could not be read;
 * - `BadTorrent`: the torrent or magnet link is invalid (or describes no usable layout);
 * - `NoMetadata`: a magnet link's metadata could not be had from peers (none, or too slow);
 * - `Unsupported`: a torrent this client cannot download yet (v2-only);
 * - `Duplicate`: it is already added;
 * - `NotFound`: no torrent with that info-hash;
 * - `Storage`: its storage could not be opened (disk, permissions);
 * - `Listen`: the client could not start: a port (peers, DHT) could not be bound.
 */
export const ClientErrorReason = Schema.Literals(["BadTorrent", "Unreadable", "NoMetadata", "Duplicate", "Storage", "Listen", "Unsupported", "NotFound"])
export type ClientErrorReason = typeof ClientErrorReason.Type

/**
 * The typed failure of the client: building it (`Listen`) and `add`, `remove`, `get`
 * (see `ClientErrorReason`); `message` is the one-line detail.
 *
 * **Example**
 *
 * ```ts
 * yield* client.add({ path: "x.torrent" }).pipe(
 *   Effect.catchTag("ClientError", (e) => Console.error(`${e.reason}: ${e.message}`))
 * )
 * ```
 */
export class ClientError extends Schema.TaggedError<ClientError>()("ClientError", {
  reason: ClientErrorReason,
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}
