import { describe, expect, it } from "vitest"

// Anything started outside npm (an IDE runner, a bare `node`) may get an older system Node
// that cannot run our .ts sources. npm puts the pinned Node first on PATH.
describe("toolchain", () => {
  it("runs on the pinned Node (>= 22.19)", () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
    expect(major > 22 || (major === 22 && minor >= 19)).toBe(true)
  })
})
