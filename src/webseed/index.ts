/**
 * Web seeds: HTTP servers as sources of pieces (BEP 19 `url-list`, BEP 17 `httpseeds`),
 * fed by the torrent's picker and verified by its storage like any peer.
 */
export { WebSeedError, WebSeedErrorReason } from "./errors.ts"
export { type FetchOptions, parseContentRange, parseRetryAfter } from "./http.ts"
export { fileParts, mergeRuns, type Part, pieceParts, type Run } from "./plan.ts"
export { DEFAULT_WEB_SEED_OPTIONS, type WebSeedHost, type WebSeedOptions, webSeeds, type WebSeedStarter } from "./source.ts"
export { fileUrl, pieceUrl } from "./urls.ts"
