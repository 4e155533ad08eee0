/**
 * The manager's `queue(maxsize?)`: a hosted FIFO `Queue`. A get that wins
 * is acknowledged by the client as its reply arrives; one never
 * acknowledged (the client dropped) or undone (the client was interrupted)
 * goes back to the place in the queue it was taken from. `attach` reports
 * the `maxsize`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type {
  InvalidArgumentError,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TaskDoneError
} from "../../errors.ts"
import * as Queue from "../../Queue.ts"
import { type RemoteQueue, remoteQueue, type Taken } from "../../internal/remoteQueue.ts"
import { make, type Remote } from "../kind.ts"
import type { Handle, Named } from "../Manager.ts"
import { encodeTimeout } from "../protocol.ts"
import { jsonItem } from "./support.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted FIFO `Queue` (`Queue.fifo(maxsize)`: 0 or omitted means
   * unbounded; a bad `maxsize` fails with `InvalidArgumentError`), Python's
   * `manager.Queue()`, with every operation of the fiber queue: blocking and
   * timed puts and gets, `taskDone` / `join`, `shutdown`.
   *
   * Items cross as JSON, in every process including the manager's own: a
   * getter gets what `JSON.parse` gives (a `Date` arrives as a string, an
   * `undefined` field disappears). A value JSON cannot carry (a function, a
   * `bigint`, a cycle, `undefined` itself) is refused before it is sent:
   * the `put` dies with an `InvalidArgumentError` defect (the interface's
   * `put` has no error for it, as with `SharedQueue`; recover with
   * `Effect.catchDefect`).
   *
   * No item is lost to a getter that does not get it:
   * - a get interrupted while it waits on the manager takes nothing;
   * - a get interrupted after the manager took the item for it (the race
   *   was lost on the wire) gives the item back before its interruption
   *   completes: it returns to the exact place it was taken from (ahead of
   *   later items), or to the next waiting getter;
   * - a client that disconnects or dies gives back every item the manager
   *   sent it and it did not acknowledge (it acknowledges a reply as it
   *   arrives, before the getter resumes). An item whose reply did arrive
   *   belongs to that process, as an item taken from any queue does.
   *
   * An item given back can make the queue hold one more item than `maxsize`
   * for a moment (its slot went to a putter meanwhile). A `put` interrupted
   * after the manager accepted its item leaves it put (the other direction,
   * an interrupted waiting `put`, puts nothing).
   *
   * @example
   * ```ts
   * // manager's process: hand `jobs.handle` to the worker processes
   * declare const manager: Manager.Manager
   * const jobs = yield* manager.queue<{ url: string } | null>(100)
   * yield* jobs.put({ url: "https://example.com" })
   * yield* jobs.put(null) // one sentinel per worker
   *
   * // a worker process
   * declare const handle: Manager.Handle<"queue">
   * const queue = (yield* Manager.attach(handle)) as Queue.Queue<{ url: string } | null>
   * let job = yield* queue.get
   * while (job !== null) {
   *   yield* Effect.log(job.url)
   *   yield* queue.taskDone
   *   job = yield* queue.get
   * }
   * ```
   */
  queue<A = unknown>(maxsize?: number, options?: Named): Effect.Effect<Queue.Queue<A> & { readonly handle: Handle<"queue"> }, InvalidArgumentError>
}

/** What the server keeps per primitive. @internal */
export interface State {
  readonly prim: Queue.Queue<unknown>
  readonly remote: RemoteQueue
}

const itemOf = (taken: { readonly item: unknown }): unknown => taken.item

const takes: ReadonlySet<string> = new Set(["get", "getNowait", "getFor"])

/** The interface over remote calls. */
const view = ({ invoke }: Remote, { maxsize = 0 }: { readonly maxsize?: number }): Queue.Queue<unknown> => ({
  maxsize,
  put: (item): Effect.Effect<void, QueueShutDownError> =>
    Effect.flatMap(jsonItem("put", item), (copy) => invoke("put", [copy])),
  putNowait: (item): Effect.Effect<void, QueueFullError | QueueShutDownError> =>
    Effect.flatMap(jsonItem("putNowait", item), (copy) => invoke("putNowait", [copy])),
  putFor: (item, timeout): Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError> =>
    Effect.flatMap(jsonItem("putFor", item), (copy) => invoke("putFor", [copy, encodeTimeout(timeout)])),
  get: Effect.map(invoke("get", []), itemOf) as Effect.Effect<unknown, QueueShutDownError>,
  getNowait: Effect.map(invoke("getNowait", []), itemOf) as Effect.Effect<unknown, QueueEmptyError | QueueShutDownError>,
  getFor: (timeout): Effect.Effect<unknown, QueueEmptyError | QueueShutDownError | InvalidArgumentError> =>
    Effect.map(invoke("getFor", [encodeTimeout(timeout)]), itemOf),
  size: invoke("size", []),
  isEmpty: invoke("isEmpty", []),
  isFull: invoke("isFull", []),
  taskDone: invoke("taskDone", []) as Effect.Effect<void, TaskDoneError>,
  join: invoke("join", []),
  shutdown: (options) => invoke("shutdown", [options?.immediate === true])
})

/** @internal */
export const kind = make<Factory>()({
  kind: "queue",
  describe: (state) => ({ holders: [], counts: { size: Effect.runSync(state.prim.size), maxsize: state.prim.maxsize } }),
  host: (maxsize?: number) => Effect.map(Queue.fifo<unknown>(maxsize), (prim): State => ({ prim, remote: remoteQueue(prim) })),
  ops: {
    put: ({ prim }, [item]) => prim.put(item),
    putNowait: ({ prim }, [item]) => prim.putNowait(item),
    putFor: ({ prim }, [item, timeout]) => prim.putFor(item, timeout),
    get: ({ remote }) => remote.get,
    getNowait: ({ remote }) => remote.getNowait,
    getFor: ({ remote }, [timeout]) => remote.getFor(timeout),
    // A client interrupted after its get was won gives the item back.
    restore: (state, [seq], conn) => {
      for (const [r, unacked] of conn.unacked) {
        const taken = unacked.value as Taken
        if (unacked.hosted.state === state && taken.seq === seq) {
          conn.unacked.delete(r)
          return state.remote.restore(taken.item, taken.seq)
        }
      }
      return Effect.void
    },
    size: ({ prim }) => prim.size,
    isEmpty: ({ prim }) => prim.isEmpty,
    isFull: ({ prim }) => prim.isFull,
    taskDone: ({ prim }) => prim.taskDone,
    join: ({ prim }) => prim.join,
    shutdown: ({ prim }, [immediate]) => prim.shutdown({ immediate: immediate === true })
  },
  acked: {
    ops: takes,
    giveBack: (state, value) => state.remote.restore((value as Taken).item, (value as Taken).seq)
  },
  info: (state): { readonly maxsize: number } => ({ maxsize: state.prim.maxsize }),
  view,
  // Through the same JSON copy and books as a remote call.
  local: (state, run) => view({ invoke: run, cast: () => Effect.void, subscribe: Effect.die("no subscribe") }, { maxsize: state.prim.maxsize }),
  // A get that won: the item goes back to its place in the queue.
  compensate: (op, _args, value) => takes.has(op) ? { op: "restore", args: [(value as Taken).seq] } : undefined
})
