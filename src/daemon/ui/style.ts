/** The web UI's stylesheet (inline in the page). */
export const STYLE = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #18181b; background: #fafafa; }
body { margin: 0; }
body.dragging { outline: 4px dashed #2563eb; outline-offset: -8px; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; background: #18181b; color: #fafafa; }
header h1 { font-size: 1.1rem; margin: 0; }
header a { color: #93c5fd; }
#live { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; background: #71717a; }
#live.on { background: #22c55e; }
#add { display: flex; gap: .5rem; flex: 1; align-items: center; }
#magnet { flex: 1; min-width: 12rem; padding: .35rem .5rem; }
.file input { margin-left: .5rem; }
#error { margin: 0; padding: .5rem 1rem; background: #fee2e2; color: #991b1b; }
main { padding: 1rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e4e4e7; white-space: nowrap; }
td.name { white-space: normal; font-weight: 600; cursor: pointer; }
tr.selected { background: #dbeafe; }
.bar { display: inline-block; vertical-align: middle; width: 8rem; height: .6rem; background: #e4e4e7; border-radius: .3rem; overflow: hidden; }
.bar > div { height: 100%; background: #16a34a; }
.pct { margin-left: .4rem; font-variant-numeric: tabular-nums; }
button { cursor: pointer; }
#detail { border-top: 2px solid #18181b; padding-top: .5rem; }
#pieces { width: 100%; height: 16px; image-rendering: pixelated; border: 1px solid #d4d4d8; }
`
