/**
 * Lean processes on Node. Node runs `.ts` files by loading its TypeScript
 * stripper (a WebAssembly module), about 24 MB in every process that imports
 * one; and V8's default young generation lets a busy process's short-lived
 * garbage (lines, JSON, 10,000 connections' hand-offs) grow its RSS by tens of
 * megabytes. So on Node the chat strips its own modules once into a directory
 * under the system's temporary directory, as plain `.mjs` with package imports
 * resolved to files, and runs from that copy: the primary re-executes itself
 * into it (`process.execve`: same process, same pid, same output) with a 1 MB
 * semi-space (its 10,000 connections' hand-offs are garbage) and in V8's lite
 * mode (no optimizing compiler: 16 MB less at rest; the primary only routes
 * commands and sequences lines, and the bench shows the same s1 p99, s2 rate
 * and idle p99 with and without it), and
 * `node:cluster` forks the workers from it with 4 MB (smaller costs a
 * broadcast to thousands of sockets constant scavenges; bigger costs memory per
 * connection). Bun and Deno run TypeScript natively and keep running the
 * sources.
 *
 * The copy is named by a hash of the sources and the Node version, made
 * atomically (written aside, then renamed), reused by every later run, and
 * shared by servers running at the same time; a crash leaves nothing that the
 * next run would not reuse.
 *
 * @example
 * // main.ts, in the primary, before anything else:
 * reexec() // returns only where it does not apply
 * // primary.ts:
 * const lean = leanWorkers()
 * if (lean) cluster.setupPrimary({ exec: lean.entry, execArgv: [...lean.execArgv] })
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as module from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Running from the stripped copy (`.mjs`), not the sources. */
export const isLean: boolean = import.meta.url.endsWith(".mjs")

/** V8 flags for the primary on Node: a small young generation, and no optimizing compiler (see above). */
export const V8_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=1", "--lite-mode"]

/** V8 flags for a worker on Node: a young generation between V8's default and the primary's. */
export const WORKER_V8_FLAGS: ReadonlyArray<string> = ["--max-semi-space-size=4"]

const here = path.dirname(fileURLToPath(import.meta.url))

const strip = (module as { stripTypeScriptTypes?: (code: string) => string }).stripTypeScriptTypes

const applies = (): boolean => {
  const g = globalThis as { Bun?: unknown; Deno?: unknown }
  return g.Bun === undefined && g.Deno === undefined && strip !== undefined
}

/** `./x.ts` to `./x.mjs`; a package import to its file, resolved from the sources' directory. */
const rewrite = (code: string): string =>
  code.replace(/(from\s+|import\s*\(\s*)(["'])([^"']+)\2/g, (whole, head: string, quote: string, spec: string) => {
    if (spec.startsWith("./") && spec.endsWith(".ts")) return `${head}${quote}${spec.slice(0, -3)}.mjs${quote}`
    if (spec.startsWith(".") || spec.startsWith("node:") || spec.startsWith("file:")) return whole
    try {
      return `${head}${quote}${import.meta.resolve(spec)}${quote}`
    } catch {
      return whole // not an import after all (text in a comment or a string)
    }
  })

/** The stripped copy's directory, made if needed; undefined where it does not apply. */
export const leanCopy = (): string | undefined => {
  if (isLean) return here
  if (!applies()) return undefined
  const names = fs.readdirSync(here).filter((f) => f.endsWith(".ts")).sort()
  const sources = names.map((name) => [name.slice(0, -3), fs.readFileSync(path.join(here, name), "utf8")] as const)
  const hash = createHash("sha256").update(process.version).update(here)
  for (const [name, code] of sources) hash.update(name).update("\0").update(code).update("\0")
  const dir = path.join(os.tmpdir(), `weft-chat-${hash.digest("hex").slice(0, 16)}`)
  if (fs.existsSync(path.join(dir, "worker-entry.mjs"))) return dir
  const scratch = fs.mkdtempSync(`${dir}.tmp-`)
  // The stripper announces itself as experimental on every call; here it is only a build step.
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
    if (String(warning).includes("stripTypeScriptTypes")) return
    return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    for (const [name, code] of sources) fs.writeFileSync(path.join(scratch, `${name}.mjs`), rewrite(strip!(code)))
    fs.writeFileSync(
      path.join(scratch, "worker-entry.mjs"),
      `import { runWorker } from "./worker.mjs"\nrunWorker(JSON.parse(process.env.WEFT_CHAT ?? "{}"))\n`
    )
    try {
      fs.renameSync(scratch, dir)
    } catch {
      // Another server made it first: the same files.
      fs.rmSync(scratch, { recursive: true, force: true })
    }
    prune(dir)
    return dir
  } catch (error) {
    fs.rmSync(scratch, { recursive: true, force: true })
    throw error
  } finally {
    process.emitWarning = emitWarning
  }
}

/** The copy, or undefined when it cannot be made (say, no writable temporary directory): then the sources run. */
const tryCopy = (): string | undefined => {
  try {
    return leanCopy()
  } catch {
    return undefined
  }
}

/** Copies of other versions of the sources, untouched for a day, go (a running server keeps its own fresh). */
const prune = (keep: string): void => {
  const parent = path.dirname(keep)
  const dayAgo = Date.now() - 24 * 3600 * 1000
  for (const name of fs.readdirSync(parent)) {
    const full = path.join(parent, name)
    if (full === keep || !/^weft-chat-[0-9a-f]{16}$/.test(name)) continue
    try {
      if (fs.statSync(full).mtimeMs < dayAgo) fs.rmSync(full, { recursive: true, force: true })
    } catch {
      // gone already
    }
  }
}

/** Where `node:cluster` should fork workers from, and with which flags; undefined: fork `main.ts`. */
export const leanWorkers = (): { readonly entry: string; readonly execArgv: ReadonlyArray<string> } | undefined => {
  const dir = tryCopy()
  if (dir === undefined) return undefined
  const execArgv = process.execArgv.filter((flag) => !V8_FLAGS.includes(flag) && !WORKER_V8_FLAGS.includes(flag))
  // In use: keep it fresh, so that another version's start-up does not prune it from under us.
  const touch = () => {
    try {
      const now = new Date()
      fs.utimesSync(dir, now, now)
    } catch {
      // nothing to keep
    }
  }
  touch()
  setInterval(touch, 3600 * 1000).unref()
  return { entry: path.join(dir, "worker-entry.mjs"), execArgv: [...WORKER_V8_FLAGS, ...execArgv] }
}

/**
 * On Node, replaces this process with `node --max-semi-space-size=1 <copy>/main.mjs <the same
 * arguments>` (same pid, same standard streams) and does not return. Elsewhere, or when running
 * from the copy already, or without `process.execve`, returns and the sources run as they are.
 */
export const reexec = (): void => {
  const execve = (process as { execve?: (file: string, args: Array<string>, env: NodeJS.ProcessEnv) => never }).execve
  if (isLean || execve === undefined || process.env.WEFT_CHAT_NO_REEXEC !== undefined) return
  const dir = tryCopy()
  if (dir === undefined) return
  const execArgv = process.execArgv.filter((flag) => !V8_FLAGS.includes(flag))
  execve(process.execPath, [process.execPath, ...V8_FLAGS, ...execArgv, path.join(dir, "main.mjs"), ...process.argv.slice(2)], process.env)
}
