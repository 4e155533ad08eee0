/**
 * The buyer of the rush: the worker module of the rush's `ProcessPool` (one
 * process per buyer). A task `buy(options, lock, start)` waits at the start
 * barrier (a `Manager` barrier: every buyer and the rush itself, so all begin
 * at one moment), thinks a random 0..think ms, looks at the count without
 * the lock, then buys under `lock`: the store's `FileLock` (`"file"`), the
 * `Manager` lock passed in (it arrives attached), or none (`"none"`).
 *
 * @example
 * ```ts
 * const pool = yield* ProcessPool.make<typeof import("./buyer.ts").default>({ module: Rush.buyerModule, size: 4 })
 * const answer = yield* pool.submit("buy", { file, buyer: 1, think: 20, hold: 20 }, "file", barrier)
 * ```
 *
 * @module
 */
import { defineWorker } from "@weft/pools/worker"
import type { Barrier, Lock } from "@weft/primitives"
import { Effect } from "effect"
import * as Store from "./store.ts"

/**
 * What one buyer is told to do.
 *
 * @example
 * ```ts
 * const task: BuyerTask = { file: "/tmp/t.json", buyer: 3, think: 20, hold: 20 }
 * ```
 */
export interface BuyerTask {
  /** The store: a file or a postgres:// URL. */
  readonly file: string
  readonly buyer: number
  readonly think: number
  readonly hold: number
}

/**
 * What a buyer answers.
 *
 * @example
 * ```ts
 * const answer: BuyerAnswer = { buyer: 3, seen: 2, ok: true, seat: 1, left: 1 }
 * ```
 */
export type BuyerAnswer =
  | { readonly buyer: number; readonly seen: number; readonly ok: true; readonly seat: number; readonly id: string; readonly left: number }
  | { readonly buyer: number; readonly seen: number; readonly ok: false }
  | { readonly buyer: number; readonly error: string }

const randomMillis = (max: number) => Effect.suspend(() => Effect.sleep(Math.floor(Math.random() * Math.max(0, max))))

const buy = (task: BuyerTask, lock: "file" | "none" | Lock.Lock, start: Barrier.Barrier) =>
  Effect.gen(function*() {
    const store = yield* Store.open(task.file, { lock, hold: randomMillis(task.hold) })
    yield* start.wait
    yield* randomMillis(task.think)
    const seen = (yield* store.tickets).count
    const purchase = yield* store.buy({ buyer: `buyer ${task.buyer}` })
    return purchase.ok
      ? { buyer: task.buyer, seen, ok: true, seat: purchase.order.seat, id: purchase.order.id, left: purchase.left } as const
      : { buyer: task.buyer, seen, ok: false } as const
  }).pipe(
    Effect.scoped,
    Effect.catch((error): Effect.Effect<BuyerAnswer> => Effect.succeed({ buyer: task.buyer, error: error.message }))
  )

export default defineWorker({ buy })
