/**
 * Lean workers on Node: Node runs `.ts` files by loading its TypeScript
 * stripper (a WebAssembly module), about 24 MB in every process that imports
 * one. The workers' modules are few and small, so the primary strips them once
 * into a directory under the system's temporary directory as plain `.mjs`
 * (reused while the sources stay the same) and points `node:cluster` at that
 * copy: each worker is then a bare runtime plus the chat's own code. Bun and
 * Deno run TypeScript natively, at no such cost, and fork `main.ts` as is.
 *
 * @example
 * const lean = leanWorkers() // undefined where it does not apply
 * if (lean) cluster.setupPrimary({ exec: lean.entry })
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as module from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The modules a worker loads (worker.ts and what it imports). */
const WORKER_MODULES = ["worker", "hub", "irc", "plain", "messages", "protocol"]

export interface LeanWorkers {
  /** The worker's entry module, plain JavaScript. */
  readonly entry: string
}

/**
 * The stripped copy for these sources: `<tmp>/weft-chat-worker-<hash of the sources>/entry.mjs`,
 * made once (atomically, by rename, so concurrent servers agree) and reused by every later run of
 * the same sources; a crash leaves nothing that the next run would not reuse.
 */
export const leanWorkers = (): LeanWorkers | undefined => {
  const g = globalThis as { Bun?: unknown; Deno?: unknown }
  const strip = (module as { stripTypeScriptTypes?: (code: string) => string }).stripTypeScriptTypes
  if (g.Bun !== undefined || g.Deno !== undefined || strip === undefined) return undefined
  const src = path.dirname(fileURLToPath(import.meta.url))
  const sources = WORKER_MODULES.map((name) => [name, fs.readFileSync(path.join(src, `${name}.ts`), "utf8")] as const)
  const hash = createHash("sha256").update(process.version)
  for (const [name, code] of sources) hash.update(name).update("\0").update(code).update("\0")
  const dir = path.join(os.tmpdir(), `weft-chat-worker-${hash.digest("hex").slice(0, 16)}`)
  const entry = path.join(dir, "entry.mjs")
  if (fs.existsSync(entry)) return { entry }
  const scratch = fs.mkdtempSync(`${dir}.tmp-`)
  // The stripper announces itself as experimental on every call; it is only a build step here.
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
    if (String(warning).includes("stripTypeScriptTypes")) return
    return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    for (const [name, code] of sources) {
      const js = strip(code).replace(/(from\s+|import\s*\(\s*)(["'])\.\/([\w-]+)\.ts\2/g, "$1$2./$3.mjs$2")
      fs.writeFileSync(path.join(scratch, `${name}.mjs`), js)
    }
    fs.writeFileSync(path.join(scratch, "entry.mjs"), `import { runWorker } from "./worker.mjs"\nrunWorker(JSON.parse(process.env.WEFT_CHAT ?? "{}"))\n`)
    try {
      fs.renameSync(scratch, dir)
    } catch {
      // Another server made it first: the same files.
      fs.rmSync(scratch, { recursive: true, force: true })
    }
    return { entry }
  } catch (error) {
    fs.rmSync(scratch, { recursive: true, force: true })
    throw error
  } finally {
    process.emitWarning = emitWarning
  }
}
