#!/usr/bin/env node
// Entry point for `npx effect-torrent`. Node >= 22.18 runs the TypeScript sources directly
// (type stripping), and npx/npm put the pinned Node 24 first on PATH.
import { main } from "../src/cli/main.ts"

main()
