/**
 * The web UI at `/`: one HTML page with its style and script inline (about 13 KB, no
 * framework, no build step). The script is `app` (app.ts) as source text; the page carries
 * the API token in a `<meta>` tag, readable only by pages of this origin.
 */
import { HttpRouter, HttpServerResponse } from "effect/http"
import { app } from "./app.ts"
import { STYLE } from "./style.ts"

const escapeAttribute = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")

export const page = (token: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="token" content="${escapeAttribute(token)}">
<title>effect-torrent</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>effect-torrent <span id="live" title="live updates"></span></h1>
  <form id="add">
    <input id="magnet" name="magnet" placeholder="magnet:?xt=urn:btih:…" autocomplete="off">
    <button type="submit">Add magnet</button>
    <label class="file">or a .torrent file<input id="file" type="file" accept=".torrent,application/x-bittorrent" multiple></label>
  </form>
  <nav><a href="/api/docs">API</a></nav>
</header>
<p id="error" role="alert" hidden></p>
<main>
  <table id="torrents">
    <thead><tr><th>Name</th><th>Progress</th><th>Status</th><th>Down</th><th>Up</th><th>Peers</th><th>ETA</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
  <p id="empty">No torrents yet: paste a magnet link, pick a .torrent file, or drop one anywhere on this page.</p>
  <section id="detail" hidden>
    <h2><span id="detail-name"></span> <button id="close" type="button">Close</button></h2>
    <canvas id="pieces" width="800" height="16" title="pieces: green = verified"></canvas>
    <h3>Files</h3>
    <table id="files"><thead><tr><th></th><th>Path</th><th>Size</th><th>Done</th><th></th></tr></thead><tbody></tbody></table>
    <h3>Peers</h3>
    <table id="peers"><thead><tr><th>Address</th><th>Client</th><th>Transport</th><th>Down</th><th>Up</th><th>Has</th></tr></thead><tbody></tbody></table>
    <h3>Trackers</h3>
    <table id="trackers"><thead><tr><th>URL</th><th>Status</th><th>Peers</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>(${String(app)})()</script>
</body>
</html>`

export const uiRoute = (token: string) => {
  const html = page(token)
  return HttpRouter.add(
    "GET",
    "/",
    HttpServerResponse.html(html).pipe(
      HttpServerResponse.setHeaders({
        "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; media-src 'self'",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer"
      })
    )
  )
}
