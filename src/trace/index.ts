/**
 * Traces: one JSON-lines format for real and simulated runs (docs/TRACE.md).
 *
 * - `schema.ts`: `TraceLine`, the Schema every line decodes with.
 * - `recorder.ts`: `TorrentTrace` / `PeerTrace`, the hooks a torrent and its sessions call.
 * - `writer.ts`: `TraceWriter` and `openTraceFile`, the buffered file sink of a real run.
 */
export * from "./schema.ts"
export * from "./recorder.ts"
export * from "./writer.ts"
export * from "./summary.ts"
