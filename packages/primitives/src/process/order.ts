/**
 * Lock-order checking at process scope, the part both ends share: which
 * operations of which kinds take or give back a lock, and the books of the
 * locks each fiber holds (by primitive id), kept by a client for its fibers
 * and by the manager for the fibers of its own process. The manager's graph
 * (server.ts) does the checking.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"
import * as Registry from "../inspect/Registry.ts"
import { took } from "./kinds/support.ts"

/** The kinds that are locks, and their operations that take or give back the lock. @internal */
const ordered = new Map<string, ReadonlySet<string>>([
  ["lock", new Set(["acquire", "acquireFor", "tryAcquire", "release"])],
  ["rlock", new Set(["acquire", "acquireFor", "tryAcquire", "release"])]
])

/** Whether `op` of `kind` takes or gives back a lock (booked while checking is on). @internal */
export const isOrdered = (kind: string, op: string): boolean => ordered.get(kind)?.has(op) ?? false

/** Whether `op` waits for a lock, and so is checked against the fiber's held locks. @internal */
export const isChecked = (op: string): boolean => op === "acquire" || op === "acquireFor"

/** What an acquisition carries with checking on: the ids of the locks the fiber holds, and where it is. @internal */
export interface Order {
  readonly held: ReadonlyArray<number>
  readonly where: string
}

/** The locks of one manager each fiber holds, by fiber id, in the order taken. @internal */
export class Holdings {
  private readonly byFiber = new Map<number, Array<number>>()

  /** What an acquisition by `fiber` sends: its held locks, and where it is (only if it holds any). */
  orderFor(fiber: Fiber.Fiber<unknown, unknown>): Order {
    const held = this.byFiber.get(fiber.id) ?? []
    const span = (fiber as unknown as { readonly currentSpanLocal?: { readonly name: string } }).currentSpanLocal?.name
    return { held, where: held.length === 0 ? "" : span ?? Registry.callerPlace() }
  }

  /** Books what `op` on lock `id` did for `fiber` (`value`: its result). */
  book(fiber: number, id: number, op: string, value: unknown): void {
    if (!took(op, value) && op !== "release") return
    let held = this.byFiber.get(fiber)
    if (op === "release") {
      const i = held?.lastIndexOf(id) ?? -1
      if (i >= 0) held!.splice(i, 1)
      if (held?.length === 0) this.byFiber.delete(fiber)
      return
    }
    if (held === undefined) this.byFiber.set(fiber, held = [])
    held.push(id)
  }
}
