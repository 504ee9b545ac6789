/**
 * The native JSON API, `/api/...`, declared once with `HttpApi`: requests are decoded and
 * responses encoded by these schemas, and `/api/openapi.json` is generated from them.
 *
 * Every endpoint needs the `X-Effect-Torrent-Token` header (the `Token` middleware): a
 * page from another origin cannot send a custom header without a CORS pre-flight, which
 * this server never grants, so it cannot drive the API from a browser (CSRF).
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "effect/http-api"
import {
  AddRequest,
  FilesRequest,
  FileView,
  InfoHash,
  Limits,
  LimitsPatch,
  PeerView,
  Session,
  TorrentDetail,
  TorrentSummary,
  TraceRequest,
  TrackerView
} from "./model.ts"

export const TOKEN_HEADER = "x-effect-torrent-token"

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }, { httpApiStatus: 404 }) {}
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }, { httpApiStatus: 400 }) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { message: Schema.String }, { httpApiStatus: 409 }) {}
export class Failed extends Schema.TaggedError<Failed>()("Failed", { message: Schema.String }, { httpApiStatus: 500 }) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { message: Schema.String }, { httpApiStatus: 403 }) {}

/** The CSRF guard: the token the server printed at start and embeds in its own web page. */
export class Token extends HttpApiMiddleware.Service<Token>()("effect-torrent/daemon/Token", {
  security: { token: HttpApiSecurity.apiKey({ key: TOKEN_HEADER, in: "header" }) },
  error: Forbidden
}) {}

const hash = { infoHash: InfoHash }
const errors = [NotFound, BadRequest, Conflict, Failed]

export class TorrentsApi extends HttpApiGroup.make("torrents")
  .add(
    HttpApiEndpoint.get("list", "/torrents", { success: Schema.Array(TorrentSummary) }),
    HttpApiEndpoint.post("add", "/torrents", { payload: AddRequest, success: TorrentSummary.pipe(HttpApiSchema.status(201)), error: errors }),
    HttpApiEndpoint.post("upload", "/torrents/upload", {
      query: { paused: Schema.optional(Schema.Literals(["true", "false"])) },
      payload: Schema.Uint8Array.pipe(HttpApiSchema.asUint8Array({ contentType: "application/x-bittorrent" })),
      success: TorrentSummary.pipe(HttpApiSchema.status(201)),
      error: errors
    }),
    HttpApiEndpoint.get("get", "/torrents/:infoHash", { params: hash, success: TorrentDetail, error: errors }),
    HttpApiEndpoint.post("pause", "/torrents/:infoHash/pause", { params: hash, error: errors }),
    HttpApiEndpoint.post("resume", "/torrents/:infoHash/resume", { params: hash, error: errors }),
    HttpApiEndpoint.post("verify", "/torrents/:infoHash/verify", { params: hash, error: errors }),
    HttpApiEndpoint.delete("remove", "/torrents/:infoHash", {
      params: hash,
      query: { deleteData: Schema.optional(Schema.Literals(["true", "false"])) },
      error: errors
    }),
    HttpApiEndpoint.get("files", "/torrents/:infoHash/files", { params: hash, success: Schema.Array(FileView), error: errors }),
    HttpApiEndpoint.put("setFiles", "/torrents/:infoHash/files", {
      params: hash,
      payload: FilesRequest,
      success: Schema.Array(FileView),
      error: errors
    }),
    HttpApiEndpoint.patch("setLimits", "/torrents/:infoHash/limits", { params: hash, payload: LimitsPatch, success: Limits, error: errors }),
    HttpApiEndpoint.put("setTrace", "/torrents/:infoHash/trace", { params: hash, payload: TraceRequest, error: errors }).annotate(
      OpenApi.Description,
      "Turns the torrent's trace on or off: the wire, as JSON lines (docs/TRACE.md), read back with GET on the same path"
    ),
    HttpApiEndpoint.get("peers", "/torrents/:infoHash/peers", { params: hash, success: Schema.Array(PeerView), error: errors }),
    HttpApiEndpoint.get("trackers", "/torrents/:infoHash/trackers", { params: hash, success: Schema.Array(TrackerView), error: errors }),
    HttpApiEndpoint.get("pieces", "/torrents/:infoHash/pieces", {
      params: hash,
      success: Schema.Struct({ pieceCount: Schema.Int, bitfield: Schema.String.annotate({ description: "BEP 3 bitfield, base64" }) }),
      error: errors
    })
  )
  .middleware(Token)
  .prefix("/api")
  .annotateMerge(OpenApi.annotations({ title: "Torrents", description: "Add, inspect and control torrents" }))
{}

export class SessionApi extends HttpApiGroup.make("session")
  .add(
    HttpApiEndpoint.get("get", "/session", { success: Session }),
    HttpApiEndpoint.patch("setLimits", "/session/limits", { payload: LimitsPatch, success: Limits, error: errors })
  )
  .middleware(Token)
  .prefix("/api")
  .annotateMerge(OpenApi.annotations({ title: "Session", description: "Global settings and totals" }))
{}

export class DaemonApi extends HttpApi.make("effect-torrent")
  .add(TorrentsApi)
  .add(SessionApi)
  .annotateMerge(OpenApi.annotations({
    title: "effect-torrent daemon",
    description:
      "The native API of `effect-torrent serve`. Besides these endpoints: GET /api/torrents/{infoHash}/files/{index} streams a file " +
      "(Range requests, token in the header or `?token=`), GET /api/events is a server-sent event stream of the torrent list, " +
      "POST /transmission/rpc speaks Transmission's RPC, GET /metrics is Prometheus text."
  }))
{}
