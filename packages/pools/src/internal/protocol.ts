/**
 * The wire protocol between a pool and its workers. Messages are flat arrays
 * so that one message carries many tasks (or many results): batching is what
 * makes tiny tasks cheap.
 *
 * main -> worker
 *   [INIT, moduleUrl, claims]      (threads: first message; `workerData` stays the user's)
 *   [RUN, id, claim, name, args, id, claim, name, args, ...]
 *   [CANCEL, id]
 *   [GIVE_BACK, count]            (hand back up to `count` tasks not started)
 * worker -> main
 *   [READY, names]
 *   [INIT_FAILED, message]
 *   [RESULTS, id, status, value, micros, id, status, value, micros, ...]
 *   [GIVEN_BACK, id, id, ...]     (these will never run here)
 *
 * `micros` is the task's own run time in the worker (-1 when it did not run),
 * from which the pool learns what each task name costs (`cost.ts`).
 *
 * @internal
 */

export const RUN = 0
export const CANCEL = 1
export const GIVE_BACK = 2
export const INIT = 3

/**
 * Work stealing between worker threads. Each thread worker gets a small
 * `Int32Array` over a `SharedArrayBuffer` of claim words. A task sent with
 * claim index `c >= 0` has word `c` set to `claimWord(id)`; the worker takes
 * the word (compare-exchange to 0) just before it starts the task, and the
 * pool may take it first to move the task to an idle worker. Whoever wins the
 * compare-exchange has the task, so it runs exactly once. A claim of -1 means
 * "not stealable" (process workers, tasks with a transfer list).
 */
export const CLAIMS = 256

export const claimWord = (id: number): number => (id % 0x7ffffffe) + 1

export const READY = 0
export const INIT_FAILED = 1
export const RESULTS = 2
export const GIVEN_BACK = 3

export const OK = 0
export const FAILED = 1
export const UNKNOWN_TASK = 2
export const CANCELLED = 3
export const NOT_CLONEABLE = 4

/** A task failure as it crosses back. */
export interface RemoteError {
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
  readonly value?: unknown
}

export const toRemoteError = (error: unknown): RemoteError => {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack }
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown; _tag?: unknown }
    return {
      name: String(e._tag ?? e.name ?? "Error"),
      message: String(e.message),
      stack: typeof e.stack === "string" ? e.stack : undefined
    }
  }
  let value: unknown
  try {
    value = structuredClone(error)
  } catch {
    value = undefined
  }
  return { name: "Error", message: String(error), stack: undefined, value }
}

/**
 * Why a process worker's result cannot cross back over JSON unchanged, or
 * `undefined` when it can: the one check of `@weft/primitives/json`, which
 * the pool side uses for arguments too. (It loads `effect/Data` for its
 * errors, about 15 ms once per worker: since primitives import Effect by
 * module, not through the barrel.)
 */
export { problem as jsonProblem } from "@weft/primitives/json"

/**
 * Task arguments that hold Weft primitives travel as `{ [ATTACH]: positions,
 * args }`, the primitives replaced by their handles; the worker attaches them
 * before calling the task. Plain arrays are the fast path.
 */
export const ATTACH = "~weft/attach"

const ATTACHABLE = new Set(["SharedLock", "SharedSemaphore", "SharedEvent", "SharedQueue", "ManagerHandle", "ClusterHandle"])

/** The handle of a Weft shared, manager or cluster primitive (or the handle itself), else `undefined`. */
export const attachableHandle = (value: object): { readonly _tag: string } | undefined => {
  const tag = (value as { _tag?: unknown })._tag
  if (typeof tag === "string" && ATTACHABLE.has(tag)) return value as { _tag: string }
  let handle: unknown
  try {
    handle = (value as { handle?: unknown }).handle
  } catch {
    return undefined
  }
  if (handle === null || typeof handle !== "object") return undefined
  const inner = (handle as { _tag?: unknown })._tag
  return typeof inner === "string" && ATTACHABLE.has(inner) ? (handle as { _tag: string }) : undefined
}
