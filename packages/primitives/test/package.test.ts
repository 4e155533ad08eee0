import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// The built package (dist/ with .d.ts), imported by name from a plain .mjs
// file on each runtime, and type-checked from a .ts consumer. `npm test`
// builds it first (turbo: test dependsOn build).
const bin = (name: string) => fileURLToPath(new URL(`../../../node_modules/.bin/${name}`, import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

describe("@weft/primitives as a package", () => {
  const runtimes: Array<[string, Array<string>]> = [
    ["node", [fixture("consumer.mjs")]],
    ["bun", [fixture("consumer.mjs")]],
    ["deno", ["run", "-A", fixture("consumer.mjs")]]
  ]
  for (const [runtime, args] of runtimes) {
    it(`imports as ESM on ${runtime} without a loader`, () => {
      const result = spawnSync(bin(runtime), args, { encoding: "utf8", timeout: 30_000 })
      expect(result.stderr).toBe("")
      expect(result.stdout.trim()).toBe("42 NotHeldError compat")
    })
  }

  it("ships types that a TypeScript consumer checks against", () => {
    const result = spawnSync(bin("tsc"), ["-p", fixture("tsconfig.consumer.json")], { encoding: "utf8", timeout: 60_000 })
    expect(result.stdout + result.stderr).toBe("")
    expect(result.status).toBe(0)
  })
})
