/**
 * Lean processes on Node. Node runs `.ts` files by loading its TypeScript
 * stripper (a WebAssembly module), about 24 MB in every process that imports
 * one; and V8's default young generation lets a busy process's short-lived
 * garbage (lines, JSON, 10,000 connections' hand-offs) grow its RSS by tens of
 * megabytes. So on Node the chat strips its own modules once into a directory
 * of the user's cache (`node_modules/.cache/weft-chat/`), as plain `.mjs` with package imports
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
 * The copy is code that runs, so it is trusted only when no other user could
 * have written it: the cache directory is made mode 0700, and before every
 * use the cache directory, the copy's directory and each of its files must be
 * owned by this user, not writable by group or others, not symbolic links,
 * and each file must hold exactly what stripping the sources gives now.
 * Anything else is rebuilt, never run (and if the cache cannot be made safe,
 * the sources run). Never under the shared temporary directory, where another
 * user could plant the file first. A copy is named by a hash of its content
 * and the Node version, made atomically (written aside, then renamed), and
 * shared by servers running at the same time; a crash leaves nothing that the
 * next run would not check.
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

/** Where the copies live: `WEFT_CHAT_CACHE` if set (tests), else `node_modules/.cache/weft-chat` beside the packages. */
export const cacheRoot = (): string => {
  const override = process.env.WEFT_CHAT_CACHE
  if (override !== undefined && override !== "") return path.resolve(override)
  // The node_modules the chat's packages come from: the user who installed them owns it.
  const effect = fileURLToPath(import.meta.resolve("effect"))
  const at = effect.lastIndexOf(`${path.sep}node_modules${path.sep}`)
  if (at < 0) throw new Error(`no node_modules above ${effect}`)
  return path.join(effect.slice(0, at), "node_modules", ".cache", "weft-chat")
}

/** Why `target` may not hold code this process runs, or undefined when it may. */
export const untrusted = (target: string, kind: "directory" | "file"): string | undefined => {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(target)
  } catch {
    return "missing"
  }
  if (kind === "directory" ? !stat.isDirectory() : !stat.isFile()) return `not a ${kind}${stat.isSymbolicLink() ? " (a symbolic link)" : ""}`
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid) return `owned by uid ${stat.uid}, not ${uid}`
  if ((stat.mode & 0o022) !== 0) return `writable by ${(stat.mode & 0o002) !== 0 ? "others" : "its group"} (mode ${(stat.mode & 0o777).toString(8)})`
  return undefined
}

/** The cache directory, made (mode 0700) if missing; throws when it cannot be trusted. */
const ensureCache = (): string => {
  const root = cacheRoot()
  fs.mkdirSync(root, { recursive: true, mode: 0o700 })
  const problem = untrusted(root, "directory")
  if (problem === undefined) return root
  // Ours but too open (made by an older version, or a umask): close it.
  if (!problem.startsWith("writable") || process.getuid === undefined) throw new Error(`${root}: ${problem}`)
  fs.chmodSync(root, 0o700)
  const still = untrusted(root, "directory")
  if (still !== undefined) throw new Error(`${root}: ${still}`)
  return root
}

/** What the copy must hold, file by file: the sources stripped, with their imports rewritten. */
const expectedCopy = (): Map<string, string> => {
  const names = fs.readdirSync(here).filter((f) => f.endsWith(".ts")).sort()
  // The stripper announces itself as experimental on every call; here it is only a build step.
  const emitWarning = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
    if (String(warning).includes("stripTypeScriptTypes")) return
    return (emitWarning as (...args: Array<unknown>) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    const files = new Map<string, string>()
    for (const name of names) files.set(`${name.slice(0, -3)}.mjs`, rewrite(strip!(fs.readFileSync(path.join(here, name), "utf8"))))
    files.set("worker-entry.mjs", `import { runWorker } from "./worker.mjs"\nrunWorker(JSON.parse(process.env.WEFT_CHAT ?? "{}"))\n`)
    return files
  } finally {
    process.emitWarning = emitWarning
  }
}

/** Why the copy in `dir` may not run, or undefined when it holds exactly `files`, safely. */
export const copyProblem = (dir: string, files: ReadonlyMap<string, string>): string | undefined => {
  const problem = untrusted(dir, "directory")
  if (problem !== undefined) return `${dir}: ${problem}`
  const present = fs.readdirSync(dir).sort()
  if (present.join("\0") !== [...files.keys()].sort().join("\0")) return `${dir}: other files than the sources'`
  for (const [name, code] of files) {
    const file = path.join(dir, name)
    const bad = untrusted(file, "file")
    if (bad !== undefined) return `${file}: ${bad}`
    if (fs.readFileSync(file, "utf8") !== code) return `${file}: not what the sources give`
  }
  return undefined
}

/**
 * The stripped copy's directory, checked (see the module doc) and made or rebuilt if needed;
 * undefined where it does not apply (Bun, Deno). Throws when no trusted copy can be had.
 */
export const leanCopy = (): string | undefined => {
  if (isLean) return here
  if (!applies()) return undefined
  const files = expectedCopy()
  const hash = createHash("sha256").update(process.version).update("\0")
  for (const [name, code] of files) hash.update(name).update("\0").update(code).update("\0")
  const cache = ensureCache()
  const dir = path.join(cache, hash.digest("hex").slice(0, 16))
  if (copyProblem(dir, files) === undefined) return dir
  // Missing, or not to be trusted: made anew, aside, then moved into place.
  fs.rmSync(dir, { recursive: true, force: true })
  const scratch = fs.mkdtempSync(`${dir}.tmp-`)
  try {
    for (const [name, code] of files) fs.writeFileSync(path.join(scratch, name), code, { mode: 0o600, flag: "wx" })
    fs.chmodSync(scratch, 0o700)
    try {
      fs.renameSync(scratch, dir)
    } catch {
      // Another server made it first: checked below like any other.
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
  const problem = copyProblem(dir, files)
  if (problem !== undefined) throw new Error(`the lean copy cannot be trusted: ${problem}`)
  prune(dir)
  return dir
}

/** The copy, or undefined when no trusted one can be had (say, a read-only node_modules): then the sources run. */
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
    if (full === keep || !/^[0-9a-f]{16}(\.tmp-\w+)?$/.test(name)) continue
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
