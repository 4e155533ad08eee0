import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { isLean, leanCopy, leanWorkers } from "../src/lean.ts"

const g = globalThis as { Bun?: unknown; Deno?: unknown }
const native = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : undefined
const src = fileURLToPath(new URL("../src/", import.meta.url))

describe("lean copies (Node)", () => {
  it.skipIf(native !== undefined)(`a stripped .mjs copy of every module, made once and reused; workers fork from it with a smaller young generation${native ? ` (skipped: ${native} runs TypeScript natively)` : ""}`, async () => {
    assert.isFalse(isLean)
    const dir = leanCopy()!
    assert.strictEqual(leanCopy(), dir, "the same copy for the same sources")
    const modules = fs.readdirSync(src).filter((f) => f.endsWith(".ts")).map((f) => f.replace(/\.ts$/, ".mjs"))
    assert.sameMembers(fs.readdirSync(dir), [...modules, "worker-entry.mjs"])
    for (const file of fs.readdirSync(dir)) {
      const code = fs.readFileSync(path.join(dir, file), "utf8")
      assert.notMatch(code, /from\s+["']\.\/[\w-]+\.ts["']/, `${file}: relative imports point at .mjs`)
      assert.notMatch(code, /from\s+["'](effect|hono|@weft)[/"']/, `${file}: package imports are resolved to files`)
    }
    const protocol = await import(pathToFileURL(path.join(dir, "protocol.mjs")).href)
    assert.deepStrictEqual(protocol.parse("/join den"), { _tag: "Join", room: "den" })
    const workers = leanWorkers()!
    assert.strictEqual(workers.entry, path.join(dir, "worker-entry.mjs"))
    assert.include(workers.execArgv, "--max-semi-space-size=4")
  })

  it.skipIf(native !== undefined || !fs.existsSync("/proc/self/cmdline"))(`node src/main.ts continues as the copy, in the same process, with a small young generation${native ? ` (skipped: ${native})` : ""}`, async () => {
    const child = spawn(process.execPath, [path.join(src, "main.ts"), "--port", "0", "--irc-port", "0", "--workers", "1"], { stdio: ["ignore", "pipe", "pipe"] })
    try {
      let out = ""
      child.stdout!.on("data", (d) => (out += d))
      child.stderr!.on("data", (d) => (out += d))
      const deadline = Date.now() + 30_000
      while (!out.includes("http: ") && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50))
      assert.include(out, "http: ")
      const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0")
      assert.include(cmdline, "--max-semi-space-size=1")
      assert.isTrue(cmdline.some((arg) => arg.endsWith("/main.mjs")), cmdline.join(" "))
      assert.notInclude(out, "ExperimentalWarning")
      process.kill(child.pid!, "SIGTERM")
      assert.strictEqual(await new Promise<number | null>((resolve) => child.on("exit", resolve)), 0)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
    }
  })

  it.skipIf(native === undefined)(`on Bun and Deno: nothing to do, the sources run${native ? "" : " (skipped: this is Node)"}`, () => {
    assert.isUndefined(leanCopy())
    assert.isUndefined(leanWorkers())
  })
})
