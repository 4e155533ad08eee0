/**
 * The runs of the `serve` mode: at most one at a time, started from the page.
 * Everything a run records is kept (the server's event log) and pushed to
 * every subscriber (the page's SSE streams) in the same order: first `run`,
 * then `ready` once the cars' workers have started (the run's clock starts
 * then; until then the page says it is starting them), then each `entry` as
 * it is recorded, then `end`.
 */
import { Data, Effect, FiberHandle, type Scope } from "effect"
import type { Join, Target } from "./cluster.ts"
import * as Invariant from "./invariant.ts"
import { type Config, run } from "./scopes.ts"
import { type Entry, line, summary } from "./simulation.ts"

/**
 * What the server has recorded for one run.
 *
 * @example
 * ```ts
 * const run: Run = runs.current()! // { id: 1, config, entries: [...], status: "done", ready: true, summary, verdict }
 * ```
 */
export interface Run {
  readonly id: number
  readonly config: Config
  readonly entries: ReadonlyArray<Entry>
  readonly status: "running" | "done" | "failed"
  /** Whether the cars' workers have all started (at once at fiber scope) and the run's clock runs. */
  readonly ready: boolean
  readonly summary?: string | undefined
  readonly error?: string | undefined
  readonly verdict: Invariant.Verdict
  /** At cluster scope: this machine's name, and the cars that joined from other machines. */
  readonly machine?: string | undefined
  readonly joins: ReadonlyArray<Join>
}

/**
 * One message of the event log, as the SSE stream sends it.
 *
 * @example
 * ```ts
 * const update: Update = { type: "run", id: 1, config: { scope: "fiber", cars: 3, green: 300, red: 300, duration: 1600 } }
 * ```
 */
export type Update =
  | { readonly type: "run"; readonly id: number; readonly config: Config; readonly machine?: string | undefined }
  | { readonly type: "ready"; readonly id: number }
  | { readonly type: "join"; readonly id: number; readonly machine: string; readonly first: number; readonly count: number }
  | { readonly type: "entry"; readonly id: number; readonly entry: Entry; readonly text: string; readonly verdict: Invariant.Verdict }
  | {
    readonly type: "end"
    readonly id: number
    readonly status: "done" | "failed"
    readonly summary?: string | undefined
    readonly error?: string | undefined
    readonly verdict: Invariant.Verdict
  }

/**
 * A run was asked for while one is still going.
 *
 * @example
 * ```ts
 * new RunInProgressError({ id: 1 }).message // "run 1 is still going; wait for it to end"
 * ```
 */
export class RunInProgressError extends Data.TaggedError("RunInProgressError")<{ readonly id: number }> {
  override get message(): string {
    return `run ${this.id} is still going; wait for it to end`
  }
}

/**
 * The runs of one server.
 *
 * @example
 * ```ts
 * const { log, unsubscribe } = runs.subscribe((update) => console.log(update.type))
 * yield* runs.start({ scope: "thread", cars: 3, green: 300, red: 300, duration: 1600 })
 * ```
 */
export interface Runs {
  /** The latest run, if any. */
  readonly current: () => Run | undefined
  /** The log of the latest run so far, and every later update, from now on. Call the result to stop. */
  readonly subscribe: (listener: (update: Update) => void) => { readonly log: ReadonlyArray<Update>; readonly unsubscribe: () => void }
  /** Starts a run; it goes on in the background (until it ends or the server's scope closes). */
  readonly start: (config: Config) => Effect.Effect<Run, RunInProgressError>
}

/**
 * The runs, in the scope: closing it interrupts a run that still goes (its
 * pool's workers or processes stop). With `cluster`, runs may be at cluster
 * scope, on that cluster, as that machine.
 *
 * @example
 * ```ts
 * const runs = yield* Runs.makeWith({ url: "postgres://weft@db/weft", machine: "lights-1" })
 * ```
 */
export const makeWith = (cluster?: Target): Effect.Effect<Runs, never, Scope.Scope> => Effect.gen(function*() {
  const handle = yield* FiberHandle.make<void, never>()
  const listeners = new Set<(update: Update) => void>()
  let latest: Run | undefined
  let log: Array<Update> = []
  let nextId = 1

  const publish = (update: Update, next: Run) => {
    latest = next
    log.push(update)
    for (const listener of listeners) listener(update)
  }

  const start = (config: Config): Effect.Effect<Run, RunInProgressError> =>
    Effect.suspend(() => {
      if (latest?.status === "running") return Effect.fail(new RunInProgressError({ id: latest.id }))
      const id = nextId++
      const machine = config.scope === "cluster" ? cluster?.machine : undefined
      const first: Run = { id, config, entries: [], status: "running", ready: false, verdict: { ok: true, violations: [] }, machine, joins: [] }
      log = []
      publish({ type: "run", id, config, machine }, first)
      const entries: Array<Entry> = []
      const onEntry = (entry: Entry) => {
        entries.push(entry)
        const verdict = Invariant.check(entries)
        publish({ type: "entry", id, entry, text: line(entry), verdict }, { ...latest!, entries: [...entries], verdict })
      }
      const onReady = () => publish({ type: "ready", id }, { ...latest!, ready: true })
      const onJoin = (join: Join) => publish({ type: "join", id, ...join }, { ...latest!, joins: [...latest!.joins, join] })
      // Every car, this machine's and those that joined: the summary names the ones that did not pass.
      const cars = () => config.cars + latest!.joins.reduce((n, j) => n + j.count, 0)
      const program = run(config, onEntry, onReady, cluster && { ...cluster, onJoin }).pipe(
        Effect.matchEffect({
          onSuccess: (all) =>
            Effect.sync(() => {
              const verdict = Invariant.check(entries)
              const text = summary(all, { cars: cars(), duration: config.duration })
              publish({ type: "end", id, status: "done", summary: text, verdict }, { ...latest!, status: "done", summary: text, verdict })
            }),
          onFailure: (error) =>
            Effect.sync(() => {
              const verdict = Invariant.check(entries)
              publish({ type: "end", id, status: "failed", error: error.message, verdict }, { ...latest!, status: "failed", error: error.message, verdict })
            })
        })
      )
      return Effect.as(FiberHandle.run(handle, program), latest!)
    })

  return {
    current: () => latest,
    subscribe: (listener) => {
      listeners.add(listener)
      return { log: [...log], unsubscribe: () => void listeners.delete(listener) }
    },
    start
  } satisfies Runs
})

/**
 * The runs of a server with no cluster (`makeWith()`).
 *
 * @example
 * ```ts
 * const runs = yield* Runs.make
 * yield* Serve.serve(makeApp(runs))
 * ```
 */
export const make: Effect.Effect<Runs, never, Scope.Scope> = makeWith()

/**
 * Waits until the latest run has ended (for tests).
 *
 * @example
 * ```ts
 * const run = yield* Runs.ended(runs) // run.status: "done" | "failed"
 * ```
 */
export const ended = (runs: Runs): Effect.Effect<Run> =>
  Effect.callback<Run>((resume) => {
    const now = runs.current()
    if (now && now.status !== "running") return resume(Effect.succeed(now))
    const { unsubscribe } = runs.subscribe((update) => {
      if (update.type === "end") {
        unsubscribe()
        resume(Effect.succeed(runs.current()!))
      }
    })
    return Effect.sync(unsubscribe)
  })
