import { defineConfig } from "vitest/config"

// The interop tier: real reference clients from Debian (libtorrent, aria2, Transmission, opentracker).
export default defineConfig({
  test: {
    include: ["test/interop/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false
  }
})
