/**
 * The per-process registry of primitives and pools that `Inspect.snapshot`
 * lists: every scope's implementation registers each instance here when it is
 * made, with a function that describes its state right now.
 *
 * It holds the instance weakly (a `WeakRef`), so being listed never keeps a
 * primitive alive: once the program drops it, it leaves the list.
 *
 * Exported as `@weft/primitives/Registry` for scopes built outside this
 * package (`@weft/cluster`, `@weft/pools`).
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * class MyLock {
 *   constructor(name?: string) {
 *     Registry.register(this, { kind: "MyLock", scope: "fiber", name }, () => ({ holders: [], waiters: [] }))
 *   }
 * }
 * ```
 *
 * @module
 */

/** Where a primitive lives: the four scopes. */
export type Scope = "fiber" | "thread" | "process" | "cluster"

/**
 * One holder or waiter. `who` is what a person reads ("fiber #12",
 * "thread 2 fiber #4", "pid 4312 fiber #9", "db01 pid 4312"); the other
 * fields are there when the scope knows them.
 */
export interface Party {
  readonly who: string
  /** When it took the primitive (a holder) or began to wait (a waiter), in epoch milliseconds. */
  readonly since: number
  /** The span, or the first stack frame outside Weft, where it took or began to wait. */
  readonly where?: string | undefined
  /** Permits held or asked for (semaphores). */
  readonly permits?: number | undefined
  readonly fiber?: number | undefined
  readonly thread?: number | undefined
  readonly pid?: number | undefined
  readonly machine?: string | undefined
}

/** What a primitive's describe function returns: its state right now. */
export interface State {
  readonly holders: ReadonlyArray<Party>
  readonly waiters: ReadonlyArray<Party>
  /**
   * Numbers that matter for the kind: a queue's `size` and `maxsize`, a
   * semaphore's `free` and `permits`, a pool's `running`, `queued` and
   * `workers`.
   */
  readonly counts?: Readonly<Record<string, number>> | undefined
  /** The contention profile of a named primitive (see `Contention`). */
  readonly contention?: Contention | undefined
}

/** A distribution of durations, in milliseconds. */
export interface Timing {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** Bucket upper bounds (ms) and how many fell at or below each; the last bound is Infinity. */
  readonly buckets?: ReadonlyArray<readonly [number, number]> | undefined
}

/** Per named primitive: how often it was taken, how often someone had to wait, and for how long. */
export interface Contention {
  readonly acquisitions: number
  readonly contended: number
  readonly wait: Timing
  readonly hold: Timing
  /** The age of the oldest wait going on now (ms); 0 when nobody waits. */
  readonly longestWait: number
}

/** A `LockOrderError`, `DeadlockError` or `RelockError` as it was seen, in plain JSON. */
export interface Report {
  readonly _tag: string
  readonly message: string
  readonly at: number
  readonly scope: Scope
}

/**
 * Everything listed in one process at one moment: what `Inspect.snapshot`
 * returns, and what the inspector page shows per process.
 */
export interface Snapshot {
  readonly pid: number
  readonly machine: string
  /** The worker thread's id; 0 on the main thread. */
  readonly thread: number
  /** What the process is, when it said so (e.g. "chat-server worker 2"). */
  readonly label?: string | undefined
  readonly at: number
  readonly entries: ReadonlyArray<Entry>
  /** The lock-order and deadlock errors seen lately, newest last. */
  readonly reports: ReadonlyArray<Report>
}

/** A listed primitive's identity. */
export interface Identity {
  /** "Lock", "SharedLock", "manager.lock", "cluster.lock", "ThreadPool", ... */
  readonly kind: string
  readonly scope: Scope
  /** The name it was given; without one it is listed as `<kind>@<place it was made>`. */
  readonly name?: string | undefined
  /**
   * Where an unnamed one was made, asked only when a snapshot lists it
   * (capturing a stack at every construction would cost more than the
   * primitive). Without it, the place is the first stack frame outside Weft,
   * captured now. Returning `undefined` lists it as `<kind>#<serial>`.
   */
  readonly place?: (() => string | undefined) | undefined
}

/** One row of a snapshot. */
export interface Entry extends State {
  readonly kind: string
  readonly scope: Scope
  readonly name: string
  /** Whether `name` was given (else it is the kind and the place it was made). */
  readonly named: boolean
}

/** A state, now or later: scopes that must ask another thread, process or the database return a Promise. */
export type Describe = () => State | Promise<State>

interface Listed {
  readonly ref: WeakRef<object>
  readonly kind: string
  readonly scope: Scope
  /** The name, or how to make it (an unnamed one's place is found on demand). */
  name: string | (() => string)
  readonly named: boolean
  readonly describe: Describe
}

let serial = 0

const nameOfListed = (entry: Listed): string => {
  if (typeof entry.name === "function") entry.name = entry.name()
  return entry.name
}

const listed = new Set<Listed>()
const byTarget = new WeakMap<object, Listed>()

// Dead entries are swept when the list has doubled since the last sweep (and
// by every `describeAll`): amortized O(1) per registration, where a
// FinalizationRegistry costs about 2 us per primitive made.
let sweepAt = 1024
const sweep = (): void => {
  for (const entry of listed) if (entry.ref.deref() === undefined) listed.delete(entry)
  sweepAt = Math.max(1024, listed.size * 2)
}

/** The first stack frame outside Weft's own sources: where a primitive was made. */
export const callerPlace = (): string => {
  const stack = new Error().stack?.split("\n").slice(1) ?? []
  for (const line of stack) {
    const frame = line.trim().replace(/^at\s+/, "")
    if (!/[/\\](packages[/\\](primitives|cluster|pools)|node_modules[/\\](@weft|effect))[/\\]/.test(frame)) {
      return frame.replace(/^.*\((.*)\)$/, "$1").replace(/^file:\/\//, "")
    }
  }
  return "unknown place"
}

/**
 * Lists `target` (held weakly) under its identity; `describe` is called by
 * every snapshot while the target lives. Registering the same target again
 * replaces its entry.
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * declare const lock: object
 * declare const holders: () => ReadonlyArray<Registry.Party>
 * Registry.register(lock, { kind: "Lock", scope: "fiber", name: "accounts" }, () => ({ holders: holders(), waiters: [] }))
 * ```
 */
export const register = (target: object, identity: Identity, describe: Describe): void => {
  unregister(target)
  const named = identity.name !== undefined && identity.name !== ""
  let name: Listed["name"]
  if (named) name = identity.name!
  else if (identity.place === undefined) name = `${identity.kind}@${callerPlace()}`
  else {
    const place = identity.place
    const n = ++serial
    name = () => {
      const at = place()
      return at === undefined ? `${identity.kind}#${n}` : `${identity.kind}@${at}`
    }
  }
  const entry: Listed = {
    ref: new WeakRef(target),
    kind: identity.kind,
    scope: identity.scope,
    name,
    named,
    describe
  }
  listed.add(entry)
  byTarget.set(target, entry)
  if (listed.size >= sweepAt) sweep()
}

/**
 * Takes `target` off the list (a closed pool, a shut-down manager).
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * declare const pool: object
 * Registry.unregister(pool)
 * ```
 */
export const unregister = (target: object): void => {
  const entry = byTarget.get(target)
  if (entry === undefined) return
  listed.delete(entry)
  byTarget.delete(target)
}

/**
 * The name a target is listed under, if it is listed.
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * declare const lock: object
 * Registry.nameOf(lock) // "accounts"
 * ```
 */
export const nameOf = (target: object): string | undefined => {
  const entry = byTarget.get(target)
  return entry === undefined ? undefined : nameOfListed(entry)
}

/**
 * Every listed primitive that is still alive, described now. A describe
 * function that throws or rejects gives an entry with no parties and an
 * `error` count of 1, rather than failing the whole snapshot.
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * const entries = await Registry.describeAll()
 * ```
 */
export const describeAll = async (): Promise<ReadonlyArray<Entry>> => {
  const alive: Array<Listed> = []
  for (const entry of listed) {
    if (entry.ref.deref() === undefined) listed.delete(entry)
    else alive.push(entry)
  }
  return Promise.all(alive.map(async (entry): Promise<Entry> => {
    const head = { kind: entry.kind, scope: entry.scope, name: nameOfListed(entry), named: entry.named }
    try {
      return { ...head, ...(await entry.describe()) }
    } catch {
      return { ...head, holders: [], waiters: [], counts: { error: 1 } }
    }
  }))
}

const recent: Array<Report> = []
const keep = 100

/**
 * Records a lock-order or deadlock error that was raised, so snapshots (and
 * the inspector page) show it; the last 100 are kept.
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * declare const error: Error & { readonly _tag: string }
 * Registry.report({ _tag: error._tag, message: error.message, at: Date.now(), scope: "fiber" })
 * ```
 */
export const report = (entry: Report): void => {
  recent.push(entry)
  if (recent.length > keep) recent.splice(0, recent.length - keep)
}

/**
 * The errors recorded by `report`, oldest first.
 *
 * @example
 * ```ts
 * import * as Registry from "@weft/primitives/Registry"
 *
 * Registry.reports().at(-1)?.message
 * ```
 */
export const reports = (): ReadonlyArray<Report> => recent.slice()
