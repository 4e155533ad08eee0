import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { createHash } from "node:crypto"
import * as os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import { cacheRoot, isLean, leanCopy, leanWorkers } from "../src/lean.ts"

const g = globalThis as { Bun?: unknown; Deno?: unknown }
const native = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : undefined
const src = fileURLToPath(new URL("../src/", import.meta.url))

/**
 * `node src/main.ts` with one worker and `env`: once it prints its HTTP address, `check` gets what it
 * printed and its command line (from /proc); then SIGTERM, and it must exit 0.
 */
const withChat = async (env: Record<string, string>, check: (out: string, cmdline: Array<string>) => void) => {
  const child = spawn(process.execPath, [path.join(src, "main.ts"), "--port", "0", "--irc-port", "0", "--http-port", "0", "--workers", "1"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  try {
    let out = ""
    child.stdout!.on("data", (d) => (out += d))
    child.stderr!.on("data", (d) => (out += d))
    const deadline = Date.now() + 30_000
    while (!out.includes("http: ") && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50))
    assert.include(out, "http: ", out)
    check(out, fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0"))
    process.kill(child.pid!, "SIGTERM")
    assert.strictEqual(await new Promise<number | null>((resolve) => child.on("exit", resolve)), 0)
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL")
  }
}

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
    await withChat({}, (out, cmdline) => {
      assert.include(cmdline, "--max-semi-space-size=1")
      assert.isTrue(cmdline.some((arg) => arg.endsWith("/main.mjs")), cmdline.join(" "))
      assert.notInclude(out, "ExperimentalWarning")
    })
  })

  it.skipIf(native === undefined)(`on Bun and Deno: nothing to do, the sources run${native ? "" : " (skipped: this is Node)"}`, () => {
    assert.isUndefined(leanCopy())
    assert.isUndefined(leanWorkers())
  })
})

/** Runs `f` with the copies cached under a fresh directory of its own (WEFT_CHAT_CACHE). */
const withCache = async <A>(f: (cache: string, tmp: string) => A | Promise<A>): Promise<A> => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "weft-lean-"))
  const cache = path.join(tmp, "cache")
  const before = process.env.WEFT_CHAT_CACHE
  process.env.WEFT_CHAT_CACHE = cache
  try {
    return await f(cache, tmp)
  } finally {
    if (before === undefined) delete process.env.WEFT_CHAT_CACHE
    else process.env.WEFT_CHAT_CACHE = before
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/** Code that, if it ever runs, leaves `marker` behind. */
const planted = (marker: string) => `import { writeFileSync } from "node:fs"\nwriteFileSync(${JSON.stringify(marker)}, "ran")\n`

/** Where versions before this check put the copy: $TMPDIR/weft-chat-<hash of the sources>. */
const oldLocation = (tmp: string) => {
  const hash = createHash("sha256").update(process.version).update(src.replace(/\/$/, ""))
  for (const name of fs.readdirSync(src).filter((f) => f.endsWith(".ts")).sort()) {
    hash.update(name.slice(0, -3)).update("\0").update(fs.readFileSync(path.join(src, name), "utf8")).update("\0")
  }
  return path.join(tmp, `weft-chat-${hash.digest("hex").slice(0, 16)}`)
}

const mode = (file: string) => fs.statSync(file).mode & 0o777

describe("lean copies are run only when no one else could have written them (Node)", () => {
  const skip = native !== undefined
  const why = native ? ` (skipped: ${native} runs the sources, no copy)` : ""

  it.skipIf(skip)(`they live in node_modules/.cache/weft-chat, mode 0700, files not writable by others${why}`, () => {
    const before = process.env.WEFT_CHAT_CACHE
    delete process.env.WEFT_CHAT_CACHE
    try {
      const root = cacheRoot()
      assert.match(root, /[/\\]node_modules[/\\]\.cache[/\\]weft-chat$/)
      assert.notInclude(root, os.tmpdir() + path.sep)
      const dir = leanCopy()!
      assert.strictEqual(path.dirname(dir), root)
      assert.strictEqual(mode(root), 0o700)
      assert.strictEqual(mode(dir), 0o700)
      for (const file of fs.readdirSync(dir)) assert.strictEqual(mode(path.join(dir, file)) & 0o022, 0, file)
    } finally {
      if (before !== undefined) process.env.WEFT_CHAT_CACHE = before
    }
  })

  it.skipIf(skip)(`a changed file, a world-writable file or directory, an extra file: rebuilt, never used${why}`, () =>
    withCache((cache, tmp) => {
      const dir = leanCopy()!
      assert.strictEqual(path.dirname(dir), cache)
      const pristine = new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]))
      const same = () => {
        assert.sameMembers(fs.readdirSync(dir), [...pristine.keys()])
        for (const [f, code] of pristine) {
          assert.strictEqual(fs.readFileSync(path.join(dir, f), "utf8"), code, f)
          assert.strictEqual(mode(path.join(dir, f)) & 0o022, 0, f)
        }
        assert.strictEqual(mode(dir) & 0o022, 0)
      }
      const marker = path.join(tmp, "ran")
      fs.appendFileSync(path.join(dir, "main.mjs"), planted(marker))
      assert.strictEqual(leanCopy(), dir)
      same()
      fs.chmodSync(path.join(dir, "worker-entry.mjs"), 0o666)
      assert.strictEqual(leanCopy(), dir)
      same()
      fs.chmodSync(dir, 0o777)
      assert.strictEqual(leanCopy(), dir)
      same()
      fs.writeFileSync(path.join(dir, "extra.mjs"), planted(marker))
      assert.strictEqual(leanCopy(), dir)
      same()
      assert.isFalse(fs.existsSync(marker))
    }))

  it.skipIf(skip || process.getuid?.() !== 0)(`a cache directory owned by another user is not used: the sources run${skip ? why : process.getuid?.() !== 0 ? " (skipped: only root can give a directory away)" : ""}`, () =>
    withCache((cache) => {
      fs.mkdirSync(cache, { mode: 0o700 })
      fs.chownSync(cache, 65534, 65534)
      assert.throws(() => leanCopy(), /owned by uid 65534/)
      assert.isUndefined(leanWorkers(), "no copy: the workers fork the sources")
    }))

  it.skipIf(skip || !fs.existsSync("/proc/self/cmdline"))(`code planted where the copy used to be ($TMPDIR) and in the cache (changed, world-writable) does not run; the chat does${why}`, () =>
    withCache(async (cache, tmp) => {
      const marker = path.join(tmp, "ran")
      // The old place, under the shared temporary directory: every file the old chat would run.
      const old = oldLocation(tmp)
      fs.mkdirSync(old, { mode: 0o777 })
      for (const file of ["main.mjs", "worker-entry.mjs"]) fs.writeFileSync(path.join(old, file), planted(marker))
      // The cache: the right copy, then main.mjs and the worker's entry changed, one world-writable.
      const dir = leanCopy()!
      fs.appendFileSync(path.join(dir, "main.mjs"), planted(marker))
      fs.writeFileSync(path.join(dir, "worker-entry.mjs"), planted(marker))
      fs.chmodSync(path.join(dir, "worker-entry.mjs"), 0o666)
      await withChat({ TMPDIR: tmp, WEFT_CHAT_CACHE: cache }, (out, cmdline) => {
        assert.include(out, "worker 1 pid", "its worker listens")
        assert.include(cmdline, path.join(dir, "main.mjs"), "it runs the rebuilt copy in the cache")
        assert.isFalse(fs.existsSync(marker), "no planted line ran")
        assert.notInclude(fs.readFileSync(path.join(dir, "main.mjs"), "utf8"), marker)
        assert.strictEqual(mode(path.join(dir, "worker-entry.mjs")) & 0o022, 0)
      })
      assert.isFalse(fs.existsSync(marker), "no planted line ran")
    }))
})
