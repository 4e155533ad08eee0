/**
 * Test helpers: a temporary directory, and real child processes (the CLI,
 * a buyer) run with the current runtime, killed and awaited when the test's
 * scope closes.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import * as Testkit from "@weft/testkit"
import * as Store from "../src/store.ts"

export const mainScript = fileURLToPath(new URL("../src/main.ts", import.meta.url))
export const fixtureScript = fileURLToPath(new URL("./fixtures/buyer.ts", import.meta.url))

const makeTempDir = (base: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(base, "weft-ticketing-test-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A temporary directory on the real disk (fsync costs what it costs). */
export const tempDir = makeTempDir(os.tmpdir())

/** A temporary directory in memory where there is one (/dev/shm): for many cheap runs. */
export const memoryDir = makeTempDir(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir())

/**
 * Opens the store afresh (a new process's view) and checks the invariants:
 * sold + left = total, no seat twice, seats within 1..total. Returns the orders.
 */
export const reopen = (file: string) =>
  Effect.gen(function*() {
    const store = yield* Store.make(file, { lock: "none" })
    const counts = yield* store.tickets
    const orders = yield* store.orders
    const seats = orders.map((o) => o.seat)
    if (counts.sold + counts.count !== counts.total) throw new Error(`sold ${counts.sold} + left ${counts.count} != total ${counts.total}`)
    if (new Set(seats).size !== seats.length) throw new Error(`a seat sold twice: ${seats.join(",")}`)
    if (seats.some((s) => s < 1 || s > counts.total)) throw new Error(`a seat outside 1..${counts.total}: ${seats.join(",")}`)
    if (new Set(orders.map((o) => o.id)).size !== orders.length) throw new Error("an order id twice")
    return { counts, orders, byId: new Map(orders.map((o) => [o.id, o])) }
  })

/** Checks that every confirmed order is in the store, with the same seat and buyer. */
export const assertConfirmedPresent = (
  byId: ReadonlyMap<string, Store.Order>,
  confirmed: ReadonlyArray<Store.Order>
) => {
  for (const order of confirmed) {
    const found = byId.get(order.id)
    if (found === undefined) throw new Error(`confirmed order ${order.id} (seat ${order.seat}) is missing`)
    if (found.seat !== order.seat || found.buyer !== order.buyer) {
      throw new Error(`order ${order.id} changed: ${JSON.stringify(found)} vs confirmed ${JSON.stringify(order)}`)
    }
  }
}

export type { Child } from "@weft/testkit"

/** A script run on this runtime (stdout and stderr watched for lines), killed and awaited when the scope closes. */
export const child = (file: string, args: ReadonlyArray<string>): Effect.Effect<Testkit.Child, never, Scope.Scope> =>
  Testkit.child(file, args, { lines: "both" })
