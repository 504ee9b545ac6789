/** The public client service: `Client.layer(config)`, `client.add(source)`, torrent handles. */
export { type AddOptions, Client, type ClientRequirements, type ClientService, type RateLimits, type TorrentSource } from "./client.ts"
export type { ClientConfig, DhtOptions } from "./config.ts"
export { ClientError, ClientErrorReason } from "./errors.ts"
export { layerNode } from "./node.ts"
export { createClient, type PromiseClient, type PromiseTorrent } from "./promise.ts"
