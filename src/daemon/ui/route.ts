import { HttpRouter, HttpServerResponse } from "effect/http"
export const uiRoute = (token: string) => HttpRouter.add("GET", "/", HttpServerResponse.html(`<!doctype html><title>effect-torrent</title><meta name="token" content="${token}">`))
