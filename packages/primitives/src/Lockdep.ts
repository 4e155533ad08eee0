/**
 * Lock-order checking (after Linux's lockdep): while it is on, Weft records
 * the order in which lock classes (locks by name) are taken while others are
 * held, and fails the first acquisition that would close a cycle in that
 * order with a `LockOrderError`, long before two fibers ever race into the
 * deadlock. It also fails a fiber that re-takes a non-reentrant `Lock` it
 * holds (`RelockError`), and breaks a real deadlock between fibers
 * (`DeadlockError`: the waiter that closes the cycle gets it, the others go on).
 *
 * These errors are defects (`Effect.die`), like `@weft/cluster`'s
 * `LockLostError`: the lock interfaces have no error channel (Python raises
 * `RuntimeError`). They are a bug in the program's lock order, not a
 * condition to recover from; each is also recorded in the registry, so
 * `Inspect.snapshot` and the inspector page show it.
 *
 * It is per process and off by default: when off, a lock pays two field reads.
 * Turn it on with `Lockdep.layer` (for the layer's lifetime), `Lockdep.enable()`,
 * or `WEFT_LOCKDEP=1` in the environment at load (the Promise face and the apps).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock, Lockdep } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* Lock.named("accounts")
 *   const b = yield* Lock.named("audit")
 *   yield* a.withLock(b.withLock(Effect.void)) // accounts -> audit, recorded
 *   yield* b.withLock(a.withLock(Effect.void)) // dies: LockOrderError (audit -> accounts inverts it)
 * }).pipe(Effect.provide(Lockdep.layer))
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type DeadlockError, LockOrderError, type LockOrderEdge, type RelockError } from "./errors.ts"
import * as Registry from "./inspect/Registry.ts"
import { envFlag } from "./internal/env.ts"

/**
 * The switch, read on every acquisition (`if (lockdep.on)`): one field read
 * when off. Set it with `enable` / `disable` / `layer`.
 *
 * @example
 * ```ts
 * import { Lockdep } from "@weft/primitives"
 *
 * Lockdep.lockdep.on // false unless WEFT_LOCKDEP=1
 * ```
 */
export const lockdep: { on: boolean } = { on: envFlag("WEFT_LOCKDEP") }

/**
 * Turns lock-order checking on for the whole process.
 *
 * @example
 * ```ts
 * Lockdep.enable()
 * ```
 */
export const enable = (): void => {
  lockdep.on = true
}

/**
 * Turns lock-order checking off. The order graph is kept (see `reset`).
 *
 * @example
 * ```ts
 * Lockdep.disable()
 * ```
 */
export const disable = (): void => {
  lockdep.on = false
}

/**
 * Whether lock-order checking is on.
 *
 * @example
 * ```ts
 * Lockdep.isEnabled() // false
 * ```
 */
export const isEnabled = (): boolean => lockdep.on

/**
 * Lock-order checking for the lifetime of the layer; afterwards the switch is
 * as it was.
 *
 * @example
 * ```ts
 * declare const program: Effect.Effect<void>
 * Effect.runPromise(program.pipe(Effect.provide(Lockdep.layer)))
 * ```
 */
export const layer: Layer.Layer<never> = Layer.effectDiscard(
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = lockdep.on
      lockdep.on = true
      return before
    }),
    (before) => Effect.sync(() => {
      lockdep.on = before
    })
  )
)

/** A lock held by the acquirer: its class (name) and where it was taken. */
export interface Held {
  readonly name: string
  readonly where: string | (() => string)
}

const place = (where: string | (() => string)): string => (typeof where === "string" ? where : where())

/**
 * The order graph between lock classes: an edge `a -> b` says `b` was taken
 * while `a` was held, with where and by whom that was first seen. The fiber
 * scope keeps one per process (`graph`); the process-scope manager and the
 * thread scope keep their own.
 *
 * @example
 * ```ts
 * const graph = new Lockdep.Graph()
 * graph.record([{ name: "a", where: "x.ts:1" }], "b", "x.ts:2", "fiber #1") // undefined: a -> b recorded
 * graph.record([{ name: "b", where: "y.ts:1" }], "a", "y.ts:2", "fiber #2") // LockOrderError: b -> a inverts a -> b
 * ```
 */
export class Graph {
  private readonly out = new Map<string, Map<string, LockOrderEdge>>()

  /**
   * Records that `acquiring` is being taken while `held` are held. Returns a
   * `LockOrderError` (and records nothing) when one of the new edges would
   * close a cycle; `undefined` otherwise. `where` may be a function: it is
   * called only when a new edge is recorded or an error is made, so that a
   * known order costs no stack capture.
   */
  record(
    held: ReadonlyArray<Held>,
    acquiring: string,
    where: string | (() => string),
    who: string
  ): LockOrderError | undefined {
    let fresh: Array<string> | undefined
    for (let i = 0; i < held.length; i++) {
      const from = held[i]!.name
      // Two locks of one class nested (or one lock twice) say nothing about order.
      if (from === acquiring || this.out.get(from)?.has(acquiring)) continue
      const back = this.path(acquiring, from)
      if (back !== undefined) {
        return new LockOrderError({ acquiring, held: from, cycle: back, where: place(where), who })
      }
      ;(fresh ??= []).push(from)
    }
    if (fresh !== undefined) {
      const at = place(where)
      for (const from of fresh) {
        let edges = this.out.get(from)
        if (edges === undefined) this.out.set(from, edges = new Map())
        if (!edges.has(acquiring)) edges.set(acquiring, { from, to: acquiring, where: at, who })
      }
    }
    return undefined
  }

  /** The edges from `from` to `to` through the graph (breadth first: the shortest), if any. */
  path(from: string, to: string): ReadonlyArray<LockOrderEdge> | undefined {
    if (!this.out.has(from)) return undefined
    const via = new Map<string, LockOrderEdge | null>([[from, null]])
    const queue = [from]
    for (let i = 0; i < queue.length; i++) {
      const node = queue[i]!
      const edges = this.out.get(node)
      if (edges === undefined) continue
      for (const edge of edges.values()) {
        if (via.has(edge.to)) continue
        via.set(edge.to, edge)
        if (edge.to === to) {
          const path: Array<LockOrderEdge> = []
          for (let e = via.get(to); e; e = via.get(e.from)) path.unshift(e)
          return path
        }
        queue.push(edge.to)
      }
    }
    return undefined
  }

  /** Every edge recorded, in the order first seen per class. */
  edges(): ReadonlyArray<LockOrderEdge> {
    const all: Array<LockOrderEdge> = []
    for (const edges of this.out.values()) for (const edge of edges.values()) all.push(edge)
    return all
  }

  /** Forgets every edge. */
  clear(): void {
    this.out.clear()
  }
}

/**
 * The fiber scope's order graph, shared by every fiber of the process.
 *
 * @example
 * ```ts
 * Lockdep.graph.edges() // [{ from: "accounts", to: "audit", where: "...", who: "fiber #3" }]
 * ```
 */
export const graph: Graph = new Graph()

/**
 * Forgets the fiber scope's recorded orders (between tests, or after a fix
 * has been loaded).
 *
 * @example
 * ```ts
 * Lockdep.reset()
 * ```
 */
export const reset = (): void => graph.clear()

/**
 * Records `error` in the registry (so snapshots show it) and returns it.
 *
 * @example
 * ```ts
 * declare const error: LockOrderError
 * const dies = Effect.die(Lockdep.reported(error, "fiber"))
 * ```
 */
export const reported = <E extends LockOrderError | DeadlockError | RelockError>(error: E, scope: Registry.Scope): E => {
  Registry.report({ _tag: error._tag, message: error.message, at: Date.now(), scope })
  return error
}
