import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { leanWorkers } from "../src/lean.ts"

const g = globalThis as { Bun?: unknown; Deno?: unknown }
const native = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : undefined

describe("leanWorkers", () => {
  it.skipIf(native !== undefined)(`on Node: plain .mjs copies of the worker's modules, made once and reused${native ? ` (skipped: ${native} runs TypeScript natively)` : ""}`, async () => {
    const lean = leanWorkers()!
    assert.isDefined(lean)
    assert.strictEqual(leanWorkers()!.entry, lean.entry, "the same copy for the same sources")
    const dir = path.dirname(lean.entry)
    assert.sameMembers(fs.readdirSync(dir), ["entry.mjs", "worker.mjs", "hub.mjs", "irc.mjs", "plain.mjs", "messages.mjs", "protocol.mjs"])
    for (const file of fs.readdirSync(dir)) assert.notMatch(fs.readFileSync(path.join(dir, file), "utf8"), /from\s+["']\.\/[\w-]+\.ts["']/, file)
    // The copies load and work without the TypeScript sources.
    const protocol = await import(pathToFileURL(path.join(dir, "protocol.mjs")).href)
    assert.deepStrictEqual(protocol.parse("/join den"), { _tag: "Join", room: "den" })
  })

  it.skipIf(native === undefined)(`on Bun and Deno: nothing to do, workers run main.ts${native ? "" : " (skipped: this is Node)"}`, () => {
    assert.isUndefined(leanWorkers())
  })
})
