/**
 * The web UI's script. It runs in the browser, not in Node: the server sends
 * `String(app)` inside the page, so this file is type-checked with the rest of the code
 * (DOM types) yet needs no bundler or build step, and ships in dist/ like any module.
 * It must therefore reference nothing outside itself (no imports, no module variables).
 *
 * What it does: lists torrents from the event stream (`/api/events`), adds by magnet or
 * dropped .torrent, pauses/resumes/removes, and shows a detail view (files with their
 * selection and stream links, peers, trackers, a piece map) refreshed on every event.
 */
export function app(): void {
  interface Summary {
    infoHash: string
    name: string
    status: string
    /** While status is metadata or pieceLayers: peers asked, and bytes (metadata) or files (layers) done of total. */
    fetch: { peers: number; done: number; total: number } | null
    progress: number
    downloadRate: number
    uploadRate: number
    peers: number
    eta: number | null
    wantedBytes: number
    error: string | null
  }
  interface Detail extends Summary {
    pieceCount: number
    pieces: string
    files: Array<{ index: number; path: string; length: number; completed: number; priority: number }>
    trackers: Array<{ url: string; ok: boolean; peers: number; message: string | null }>
  }
  interface Peer {
    address: string
    client: string
    transport: string
    encryption: string
    downloadRate: number
    uploadRate: number
    progress: number
  }

  const token = document.querySelector<HTMLMetaElement>("meta[name=token]")?.content ?? ""
  const $ = <T extends HTMLElement>(selector: string): T => {
    const found = document.querySelector<T>(selector)
    if (found === null) throw new Error(`missing ${selector}`)
    return found
  }
  const api = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(path, { ...init, headers: { "x-effect-torrent-token": token, ...(init.headers as Record<string, string> | undefined) } })
    if (!res.ok) {
      const text = await res.text()
      let message = text
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text
      } catch {
        // not JSON: the text itself
      }
      showError(`${res.status}: ${message}`)
      throw new Error(message)
    }
    return res
  }
  const showError = (message: string) => {
    const box = $("#error")
    box.textContent = message
    box.hidden = message === ""
  }
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Array<Node | string>) => {
    const node = document.createElement(tag)
    for (const [key, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(key, value)
    node.append(...children)
    return node
  }
  const bytes = (n: number) => {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"]
    let i = 0
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024
      i++
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
  }
  const rate = (n: number) => (n > 0 ? `${bytes(n)}/s` : "–")
  const eta = (s: number | null) =>
    s === null ? "–" : s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  const bar = (progress: number) => {
    const outer = el("div", { class: "bar", role: "progressbar", "aria-valuenow": String(Math.round(progress * 100)) })
    const inner = el("div")
    inner.style.width = `${(progress * 100).toFixed(1)}%`
    outer.append(inner)
    return outer
  }

  /** The status cell: a fetch before the torrent opens says what it waits for and from how many peers. */
  const statusText = (t: Summary) => {
    if (t.error !== null) return `error: ${t.error}`
    const f = t.fetch
    if (f === null) return t.status
    const peers = `(${f.peers} ${f.peers === 1 ? "peer" : "peers"})`
    if (t.status === "pieceLayers") return `fetching piece layers ${f.done}/${f.total} files ${peers}`
    return f.total > 0 ? `fetching metadata ${Math.floor((f.done / f.total) * 100)}% ${peers}` : `fetching metadata ${peers}`
  }

  let selected: string | null = null

  const action = (label: string, run: () => Promise<unknown>) => {
    const button = el("button", { type: "button" }, label)
    button.addEventListener("click", (event) => {
      event.stopPropagation()
      void run().catch(() => undefined)
    })
    return button
  }

  const renderList = (torrents: ReadonlyArray<Summary>) => {
    const body = $("#torrents tbody")
    body.replaceChildren(...torrents.map((t) => {
      const row = el("tr", { "data-hash": t.infoHash, class: t.infoHash === selected ? "selected" : "" },
        el("td", { class: "name" }, t.name),
        el("td", {}, bar(t.progress), el("span", { class: "pct" }, `${(t.progress * 100).toFixed(1)}%`)),
        el("td", { class: "status" }, statusText(t)),
        el("td", {}, rate(t.downloadRate)),
        el("td", {}, rate(t.uploadRate)),
        el("td", {}, String(t.peers)),
        el("td", {}, eta(t.eta)),
        el("td", { class: "actions" },
          t.status === "paused"
            ? action("Resume", () => api(`/api/torrents/${t.infoHash}/resume`, { method: "POST" }))
            : action("Pause", () => api(`/api/torrents/${t.infoHash}/pause`, { method: "POST" })),
          action("Remove", async () => {
            if (!confirm(`Remove ${t.name}?`)) return
            const withData = confirm("Also delete its downloaded files?")
            await api(`/api/torrents/${t.infoHash}?deleteData=${withData}`, { method: "DELETE" })
            if (selected === t.infoHash) closeDetail()
          })))
      row.addEventListener("click", () => openDetail(t.infoHash))
      return row
    }))
    $("#empty").hidden = torrents.length > 0
    if (selected !== null) void refreshDetail()
  }

  const pieceMap = (canvas: HTMLCanvasElement, bits: string, count: number) => {
    const raw = atob(bits)
    const ctx = canvas.getContext("2d")
    if (ctx === null) return
    const width = canvas.width
    ctx.fillStyle = "#e4e4e7"
    ctx.fillRect(0, 0, width, canvas.height)
    ctx.fillStyle = "#16a34a"
    for (let x = 0; x < width; x++) {
      const from = Math.floor((x * count) / width)
      const to = Math.max(from + 1, Math.floor(((x + 1) * count) / width))
      let have = 0
      for (let p = from; p < to; p++) if ((raw.charCodeAt(p >> 3) & (0x80 >> (p & 7))) !== 0) have++
      if (have > 0) {
        ctx.globalAlpha = have / (to - from)
        ctx.fillRect(x, 0, 1, canvas.height)
      }
    }
    ctx.globalAlpha = 1
  }

  const refreshDetail = async () => {
    const hash = selected
    if (hash === null) return
    const [detail, peers] = await Promise.all([
      api(`/api/torrents/${hash}`).then((r) => r.json() as Promise<Detail>),
      api(`/api/torrents/${hash}/peers`).then((r) => r.json() as Promise<Array<Peer>>).catch(() => [] as Array<Peer>)
    ])
    if (selected !== hash) return
    $("#detail-name").textContent = detail.name
    pieceMap($<HTMLCanvasElement>("#pieces"), detail.pieces, detail.pieceCount)
    $("#files tbody").replaceChildren(...detail.files.map((f) => {
      const box = el("input", { type: "checkbox", "data-index": String(f.index) })
      box.checked = f.priority > 0
      box.addEventListener("change", () => {
        void api(`/api/torrents/${hash}/files`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ priorities: { [String(f.index)]: box.checked ? 1 : 0 } })
        }).then(refreshDetail).catch(() => undefined)
      })
      const link = el("a", { href: `/api/torrents/${hash}/files/${f.index}?token=${encodeURIComponent(token)}`, target: "_blank", class: "stream" }, "stream")
      return el("tr", {}, el("td", {}, box), el("td", {}, f.path), el("td", {}, bytes(f.length)), el("td", {}, bar(f.length === 0 ? 1 : f.completed / f.length)), el("td", {}, link))
    }))
    $("#peers tbody").replaceChildren(...peers.map((p) =>
      el("tr", {}, el("td", {}, p.address), el("td", {}, p.client), el("td", {}, `${p.transport}/${p.encryption}`), el("td", {}, rate(p.downloadRate)), el("td", {}, rate(p.uploadRate)), el("td", {}, `${(p.progress * 100).toFixed(0)}%`))
    ))
    $("#trackers tbody").replaceChildren(...detail.trackers.map((t) =>
      el("tr", {}, el("td", {}, t.url), el("td", {}, t.ok ? "ok" : t.message ?? "–"), el("td", {}, String(t.peers)))
    ))
  }

  const openDetail = (hash: string) => {
    selected = hash
    $("#detail").hidden = false
    for (const row of document.querySelectorAll("#torrents tr[data-hash]")) row.classList.toggle("selected", row.getAttribute("data-hash") === hash)
    void refreshDetail().catch(() => undefined)
  }
  const closeDetail = () => {
    selected = null
    $("#detail").hidden = true
  }
  $("#close").addEventListener("click", closeDetail)

  const addTorrent = async (body: { magnet?: string; torrent?: string }) => {
    showError("")
    await api("/api/torrents", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  }
  const addFile = async (file: File) => {
    const buffer = new Uint8Array(await file.arrayBuffer())
    let binary = ""
    for (let i = 0; i < buffer.length; i += 0x8000) binary += String.fromCharCode(...buffer.subarray(i, i + 0x8000))
    await addTorrent({ torrent: btoa(binary) })
  }
  $<HTMLFormElement>("#add").addEventListener("submit", (event) => {
    event.preventDefault()
    const input = $<HTMLInputElement>("#magnet")
    const value = input.value.trim()
    if (value === "") return
    void addTorrent({ magnet: value }).then(() => (input.value = "")).catch(() => undefined)
  })
  $<HTMLInputElement>("#file").addEventListener("change", (event) => {
    const files = (event.target as HTMLInputElement).files
    for (const file of files ?? []) void addFile(file).catch(() => undefined)
  })
  document.addEventListener("dragover", (event) => {
    event.preventDefault()
    document.body.classList.add("dragging")
  })
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"))
  document.addEventListener("drop", (event) => {
    event.preventDefault()
    document.body.classList.remove("dragging")
    for (const file of event.dataTransfer?.files ?? []) void addFile(file).catch(() => undefined)
  })

  const connect = () => {
    const source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`)
    source.addEventListener("torrents", (event) => renderList(JSON.parse((event as MessageEvent<string>).data) as Array<Summary>))
    source.addEventListener("open", () => $("#live").classList.add("on"))
    source.addEventListener("error", () => $("#live").classList.remove("on"))
  }
  connect()
}
