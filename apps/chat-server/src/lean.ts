/**
 * Lean workers on Node: Node runs `.ts` files by loading its TypeScript
 * stripper (a WebAssembly module), about 24 MB in every process that imports
 * one. The workers' modules are few and small, so the primary strips them once
 * into a temporary directory as plain `.mjs` and points `node:cluster` at that
 * copy: each worker is then a bare runtime plus the chat's own code. Bun and
 * Deno run TypeScript natively, at no such cost, and fork `main.ts` as is.
 *
 * @example
 * const lean = leanWorkers() // undefined where it does not apply
 * if (lean) cluster.setupPrimary({ exec: lean.entry })
 * // ... at shutdown
 * lean?.remove()
 */
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
  readonly remove: () => void
}

export const leanWorkers = (): LeanWorkers | undefined => {
  const g = globalThis as { Bun?: unknown; Deno?: unknown }
  const strip = (module as { stripTypeScriptTypes?: (code: string) => string }).stripTypeScriptTypes
  if (g.Bun !== undefined || g.Deno !== undefined || strip === undefined) return undefined
  const src = path.dirname(fileURLToPath(import.meta.url))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-chat-worker-"))
  // The stripper announces itself as experimental on every call; it is only a build step here.
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
    if (String(warning).includes("stripTypeScriptTypes")) return
    return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    for (const name of WORKER_MODULES) {
      const code = strip(fs.readFileSync(path.join(src, `${name}.ts`), "utf8"))
        .replace(/(from\s+|import\s*\(\s*)(["'])\.\/([\w-]+)\.ts\2/g, "$1$2./$3.mjs$2")
      fs.writeFileSync(path.join(dir, `${name}.mjs`), code)
    }
    const entry = path.join(dir, "entry.mjs")
    fs.writeFileSync(entry, `import { runWorker } from "./worker.mjs"\nrunWorker(JSON.parse(process.env.WEFT_CHAT ?? "{}"))\n`)
    return { entry, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  } finally {
    process.emitWarning = emitWarning
  }
}
