/**
 * What is held, and who waits: a snapshot of every primitive and pool this
 * process lists (see `@weft/primitives/Registry`), and a text dump of it in the
 * spirit of a Java thread dump, printed on `SIGUSR2` when asked.
 *
 * A named primitive shows its holders (fiber id, and the span or place where
 * it was taken), its waiters with their wait ages, its counts and its
 * contention profile. An unnamed one is listed as `<kind>@<place it was made>`
 * with its counts (held or not, how many wait), without per-party detail.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Inspect, Lock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.named("accounts")
 *   yield* lock.acquire
 *   const snapshot = yield* Inspect.snapshot
 *   console.log(Inspect.dump(snapshot))
 * })
 * ```
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { hostname } from "node:os"
import { threadId } from "node:worker_threads"
import * as Registry from "./inspect/Registry.ts"
import { envFlag } from "./internal/env.ts"

export type { Contention, Entry, Party, Report, Snapshot, Timing } from "./inspect/Registry.ts"

let label: string | undefined

/**
 * Names this process in its snapshots and dumps (e.g. "chat-server worker 2").
 *
 * @example
 * ```ts
 * Inspect.setLabel("ticketing primary")
 * ```
 */
export const setLabel = (value: string | undefined): void => {
  label = value
}

const pid = (): number => (globalThis as { process?: { pid?: number } }).process?.pid ?? 0

const take = (at: number): Promise<Registry.Snapshot> =>
  Registry.describeAll().then((entries) => ({
    pid: pid(),
    machine: hostname(),
    thread: threadId,
    label,
    at,
    entries,
    reports: Registry.reports()
  }))

/**
 * Every listed primitive of this process (thread), described now. `at` is
 * the clock's time (so under `TestClock` the ages are the test's).
 *
 * @example
 * ```ts
 * const snapshot = yield* Inspect.snapshot
 * snapshot.entries.filter((e) => e.waiters.length > 0)
 * ```
 */
export const snapshot: Effect.Effect<Registry.Snapshot> = Effect.flatMap(
  Clock.currentTimeMillis,
  (at) => Effect.promise(() => take(at))
)

/**
 * `snapshot` for code without Effect.
 *
 * @example
 * ```ts
 * const snapshot = await Inspect.snapshotPromise()
 * ```
 */
export const snapshotPromise = (): Promise<Registry.Snapshot> => take(Date.now())

const ms = (n: number): string => {
  if (n < 1_000) return `${Math.round(n)}ms`
  if (n < 60_000) return `${(n / 1_000).toFixed(n < 10_000 ? 2 : 1)}s`
  return `${Math.floor(n / 60_000)}m${Math.round((n % 60_000) / 1_000)}s`
}

const party = (p: Registry.Party, at: number, verb: string): string => {
  const parts = [p.who]
  if (p.permits !== undefined && p.permits !== 1) parts.push(`${p.permits} permits`)
  parts.push(`${verb} ${ms(Math.max(0, at - p.since))}`)
  if (p.where !== undefined) parts.push(`at ${p.where}`)
  return parts.join(", ")
}

const timing = (t: Registry.Timing): string =>
  t.count === 0 ? "none" : `n=${t.count} p50=${ms(t.p50)} p99=${ms(t.p99)} max=${ms(t.max)}`

/**
 * A snapshot as text, in the spirit of a Java thread dump: per primitive its
 * kind, name and scope, each holder with how long it has held and where it
 * took it, each waiter with how long it has waited, its counts and
 * contention; then the lock-order and deadlock errors seen.
 *
 * @example
 * ```ts
 * console.error(Inspect.dump(yield* Inspect.snapshot))
 * // Weft dump pid 4312 on db01 thread 0 at 2026-12-07T19:40:00.000Z: 1 primitive
 * //
 * // "accounts" Lock (fiber): held by 1, 3 waiting
 * //     held by fiber #12, for 2.00s, at transfer
 * //     waiting fiber #13, for 1.50s
 * // ...
 * ```
 */
export const dump = (snapshot: Registry.Snapshot): string => {
  const at = snapshot.at
  const lines: Array<string> = []
  const who = snapshot.label === undefined ? "" : ` (${snapshot.label})`
  lines.push(
    `Weft dump pid ${snapshot.pid}${who} on ${snapshot.machine} thread ${snapshot.thread} at ${new Date(at).toISOString()}: ` +
      `${snapshot.entries.length} primitive${snapshot.entries.length === 1 ? "" : "s"}`
  )
  // The ones someone waits for first, then the held ones, then the rest.
  const rank = (e: Registry.Entry) => (e.waiters.length > 0 ? 0 : e.holders.length > 0 ? 1 : 2)
  const entries = [...snapshot.entries].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
  for (const entry of entries) {
    lines.push("")
    const state = [
      entry.holders.length > 0 ? `held by ${entry.holders.length}` : entry.counts?.held ? "held" : "free",
      entry.waiters.length > 0 ? `${entry.waiters.length} waiting` : entry.counts?.waiting ? `${entry.counts.waiting} waiting` : undefined
    ].filter((s) => s !== undefined)
    lines.push(`"${entry.name}" ${entry.kind} (${entry.scope}): ${state.join(", ")}`)
    for (const h of entry.holders) lines.push(`    held by ${party(h, at, "for")}`)
    for (const w of entry.waiters) lines.push(`    waiting ${party(w, at, "for")}`)
    // held/waiting of an unnamed primitive are in the headline already.
    const counts = Object.entries(entry.counts ?? {}).filter(([k]) => entry.named || (k !== "held" && k !== "waiting"))
    if (counts.length > 0) lines.push(`    counts: ${counts.map(([k, v]) => `${k}=${v}`).join(" ")}`)
    const c = entry.contention
    if (c !== undefined) {
      lines.push(`    acquisitions: ${c.acquisitions}, contended: ${c.contended}, longest wait now: ${ms(c.longestWait)}`)
      lines.push(`    wait: ${timing(c.wait)}`)
      lines.push(`    hold: ${timing(c.hold)}`)
    }
  }
  if (snapshot.reports.length > 0) {
    lines.push("", `Errors seen (${snapshot.reports.length}):`)
    for (const r of snapshot.reports) lines.push(`  ${new Date(r.at).toISOString()} ${r._tag} (${r.scope}): ${r.message}`)
  }
  return lines.join("\n")
}

/**
 * Prints the dump to stderr on every `SIGUSR2` (`kill -USR2 <pid>`), until the
 * returned function is called. Returns `undefined` where the runtime has no
 * `SIGUSR2` (Windows), so nothing is installed there.
 *
 * @example
 * ```ts
 * const stop = Inspect.dumpOnSignalUnsafe()
 * // ... later
 * stop?.()
 * ```
 */
export const dumpOnSignalUnsafe = (): (() => void) | undefined => {
  const proc = (globalThis as { process?: NodeJS.Process }).process
  // Windows has no SIGUSR2; there `kill -USR2` cannot be sent anyway.
  if (proc === undefined || typeof proc.on !== "function" || proc.platform === "win32") return undefined
  const onSignal = () => {
    snapshotPromise().then((s) => proc.stderr.write(dump(s) + "\n"), () => {})
  }
  try {
    proc.on("SIGUSR2", onSignal)
  } catch {
    return undefined
  }
  return () => {
    proc.off("SIGUSR2", onSignal)
  }
}

/**
 * `dumpOnSignalUnsafe` for the lifetime of a scope.
 *
 * @example
 * ```ts
 * declare const server: Effect.Effect<never>
 * const program = Effect.scoped(Effect.andThen(Inspect.dumpOnSignal, server))
 * ```
 */
export const dumpOnSignal: Effect.Effect<void, never, import("effect/Scope").Scope> = Effect.asVoid(
  Effect.acquireRelease(
    Effect.sync(dumpOnSignalUnsafe),
    (stop) => Effect.sync(() => stop?.())
  )
)

/**
 * `dumpOnSignal` as a layer.
 *
 * @example
 * ```ts
 * declare const program: Effect.Effect<void>
 * Effect.runPromise(program.pipe(Effect.provide(Inspect.layer)))
 * ```
 */
export const layer: Layer.Layer<never> = Layer.effectDiscard(dumpOnSignal)

// WEFT_INSPECT=1 opts a process in without code (the Promise face, the apps).
if (envFlag("WEFT_INSPECT")) dumpOnSignalUnsafe()

export { metricsText, prometheus } from "./inspect/prometheus.ts"
