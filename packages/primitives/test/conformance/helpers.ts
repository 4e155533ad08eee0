/**
 * What the conformance suites share: a factory type and real-time helpers.
 * The suites run against every scope (fibers, threads, processes, and
 * @weft/cluster's PostgreSQL scope), so they use the live clock, wait for
 * conditions instead of sleeping a fixed time where they can, and give time
 * bounds room for a loaded machine.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, type Scope } from "effect"

/** Makes a fresh primitive for one test; its scope closes when the test ends. */
export type Factory<P, Args extends ReadonlyArray<unknown> = []> = (...args: Args) => Effect.Effect<P, unknown, Scope.Scope>

/** Waits until `check` holds, polling every 5 ms, at most `ms` (then dies). */
export const eventually = (check: Effect.Effect<boolean, unknown>, ms = 5_000): Effect.Effect<void> =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!(yield* Effect.orDie(check))) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not reached in time"))
      yield* Effect.sleep("5 millis")
    }
  })

/**
 * Gives a forked waiter time to reach the primitive (for a remote scope, to
 * cross the socket or the database) before the next step; the suites fork
 * waiters this far apart so that their arrival order is their fork order.
 */
export const settle: Effect.Effect<void> = Effect.sleep("25 millis")

/** What `interruptedWaiter` needs: any lock, reentrant or not. */
interface Exclusive {
  readonly acquire: Effect.Effect<void, unknown>
  readonly release: Effect.Effect<void, unknown>
  readonly locked: Effect.Effect<boolean>
  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
}

/**
 * Shared by the lock and rlock suites: a waiter interrupted while queued
 * leaves nothing held, and the waiter behind it still gets the lock.
 */
export const interruptedWaiter = (lock: Exclusive) =>
  Effect.gen(function*() {
    yield* lock.acquire
    const quitter = yield* Effect.forkChild(lock.acquire)
    yield* settle
    const next = yield* Effect.forkChild(lock.withLock(Effect.succeed("next")))
    yield* settle
    yield* Fiber.interrupt(quitter)
    yield* lock.release
    assert.strictEqual(yield* Fiber.join(next), "next")
    yield* eventually(Effect.map(lock.locked, (held) => !held))
  })

/** What a scope adds to a suite. */
export interface Options {
  /**
   * Whether nothing is left behind once a test's waiters are done (no
   * pending futex hold, no open wait on the server); checked, with
   * `eventually`, at the end of every test.
   */
  readonly settled?: Effect.Effect<boolean, unknown> | undefined
}

/** Runs `body` on a fresh primitive, then checks `options.settled`. */
export const runOn = <P>(
  made: Effect.Effect<P, unknown, Scope.Scope>,
  body: (primitive: P) => Effect.Effect<void, unknown>,
  options: Options | undefined
): Effect.Effect<void, unknown> =>
  Effect.scoped(Effect.flatMap(made, (primitive) =>
    Effect.andThen(body(primitive), options?.settled === undefined ? Effect.void : eventually(options.settled))))

/**
 * The `test` of one suite: each test runs its body on a fresh primitive made
 * with `args` (`make(...args)`), live, and then checks `options.settled`.
 */
export const tester = <P, Args extends ReadonlyArray<unknown>>(
  label: string,
  make: Factory<P, Args>,
  options: Options | undefined
) =>
(title: string, args: Args, body: (primitive: P) => Effect.Effect<void, unknown>): void => {
  it.live(`${label}: ${title}`, () => runOn(make(...args), body, options))
}

/**
 * Runs `count` callers of `exclusive` at once, each holding its turn over a
 * 20 ms sleep, and, until `reach` of them have been inside together, waiting
 * up to 5 s more for company; resolves with the most that were inside
 * together. So a semaphore of n shows n however slowly its scope grants, and
 * one that lets more in shows more.
 */
export const mostInside = async (
  count: number,
  exclusive: (body: () => Promise<void>) => Promise<unknown>,
  reach = 1
): Promise<number> => {
  let inside = 0
  let most = 0
  // Once `reach` bodies are inside together, none waits any more; until then each waits up to 5 s
  // for company, so a remote scope that grants slowly on a loaded machine still shows its width.
  let reached!: () => void
  const together = new Promise<void>((resolve) => (reached = resolve))
  await Promise.all(Array.from({ length: count }, () =>
    exclusive(async () => {
      most = Math.max(most, ++inside)
      if (inside >= reach) reached()
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([together, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))])
      clearTimeout(timer)
      await new Promise((resolve) => setTimeout(resolve, 20))
      inside--
    })))
  return most
}
