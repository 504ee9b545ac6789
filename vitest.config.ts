import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/interop/**"],
    // Effect tests keep no global state: reusing workers across files keeps the suite fast
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
