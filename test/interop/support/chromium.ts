/**
 * An HTML report (`simulate --report`, `trace --report`) opened in Debian's Chromium through
 * playwright-core: what each plot drew, the console's errors and warnings, and any request
 * that left the file (a self-contained page makes none).
 */
import { Effect } from "effect"

export const REPORT_CHARTS = ["completion", "throughput", "availability", "updown", "incidents"]

export interface RenderedChart {
  readonly id: string
  readonly width: number
  readonly height: number
  /** Series paths with points, or dots. */
  readonly drawn: number
  /** Marks on the timeline (bans, hash failures). */
  readonly marks: number
}

export const renderReport = (file: string) =>
  Effect.gen(function*() {
    const { chromium } = yield* Effect.promise(() => import("playwright-core"))
    const browser = yield* Effect.acquireRelease(
      Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })),
      (b) => Effect.promise(() => b.close())
    )
    const page = yield* Effect.promise(() => browser.newPage())
    const problems: Array<string> = []
    const requests: Array<string> = []
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`))
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url())
    })
    const charts: ReadonlyArray<RenderedChart> = yield* Effect.promise(async () => {
      await page.goto(`file://${file}`)
      return page.evaluate((ids) =>
        ids.map((id) => {
          const svg = document.querySelector(`#${id} svg`)
          const box = svg?.getBoundingClientRect()
          return {
            id,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            drawn: svg === null || svg === undefined ? 0 : [...svg.querySelectorAll("path.series, circle.dot")]
              .filter((e) => e.tagName === "circle" || (e.getAttribute("d") ?? "").length > 20).length,
            marks: svg?.querySelectorAll("line.mark").length ?? 0
          }
        }), REPORT_CHARTS)
    })
    return { charts, problems, requests }
  })
