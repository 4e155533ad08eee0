// "When it hangs": lock-order checking catches an inversion that never
// raced, a fiber re-taking its own lock, and a real deadlock; then a dump
// shows who holds a lock and who waits, and for how long.
import { Cause, Effect, Exit, Fiber } from "effect"
import { Inspect, Lock, Lockdep } from "@weft/primitives"

const defect = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isFailure(exit) ? String(Cause.squash(exit.cause)) : "no error"

const program = Effect.gen(function*() {
  const accounts = yield* Lock.named("accounts")
  const audit = yield* Lock.named("audit")

  // 1. Two orders, at times that never overlap: the second one fails.
  const transfer = Effect.fn("transfer")(function*() {
    yield* accounts.withLock(audit.withLock(Effect.void))
  })
  const monthlyReport = Effect.fn("monthlyReport")(function*() {
    yield* audit.withLock(accounts.withLock(Effect.void))
  })
  yield* transfer()
  console.log(defect(yield* Effect.exit(monthlyReport())))

  // 2. A fiber takes a Lock it already holds.
  const refund = Effect.fn("refund")(function*() {
    yield* accounts.withLock(accounts.withLock(Effect.void))
  })
  console.log(defect(yield* Effect.exit(refund())))

  // 3. A real deadlock: the fiber that closes the cycle is failed, the other goes on.
  const a = yield* Lock.named("inventory")
  const b = yield* Lock.named("orders")
  const first = yield* Effect.forkChild(a.withLock(Effect.andThen(Effect.sleep("20 millis"), b.withLock(Effect.succeed("first done")))))
  const second = yield* Effect.forkChild(b.withLock(Effect.andThen(Effect.sleep("40 millis"), a.withLock(Effect.succeed("second done")))))
  console.log(defect(yield* Fiber.await(second)))
  console.log(yield* Fiber.join(first))

  // 4. Who holds, who waits: one checkout holds the tickets, three wait.
  const tickets = yield* Lock.named("tickets")
  const checkout = Effect.fn("checkout")(function*(seconds: number) {
    yield* tickets.withLock(Effect.sleep(`${seconds} seconds`))
  })
  yield* Effect.forkChild(checkout(60))
  for (let i = 0; i < 3; i++) {
    yield* Effect.sleep("100 millis")
    yield* Effect.forkChild(checkout(1))
  }
  yield* Effect.sleep("100 millis")
  Inspect.setLabel("hangs example")
  console.log(Inspect.dump(yield* Inspect.snapshot))
}).pipe(Effect.provide(Lockdep.layer))

Effect.runPromise(program).then(() => process.exit(0))
