/**
 * Waiting for a condition that something announces (a child's output, a
 * socket's lines): re-checked on each announcement, never by polling, and
 * bounded in time.
 *
 * @example
 * ```ts
 * import { waitUntil } from "@weft/testkit"
 * const listeners = new Set<() => void>()
 * socket.on("data", (chunk) => { lines.push(...split(chunk)); listeners.forEach((f) => f()) })
 * const subscribe = (check: () => void) => (listeners.add(check), () => void listeners.delete(check))
 * yield* waitUntil(subscribe, () => lines.find((l) => l.startsWith("001")), 10_000, () => lines.join("\n"))
 * ```
 */
import { Effect } from "effect"

/** Registers `check` to run on each change; returns how to unregister it. */
export type Subscribe = (check: () => void) => () => void

const asError = (error: unknown): Error => error instanceof Error ? error : new Error(String(error))

/**
 * Calls `done` once: with the first value `find` returns (undefined: not yet),
 * with the error `find` throws, or with a timeout error after `timeoutMs` that
 * says `describe()`. Returns how to cancel the wait.
 */
export const watchFor = <A>(
  subscribe: Subscribe,
  find: () => A | undefined,
  timeoutMs: number,
  describe: () => string,
  done: (result: { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: Error }) => void
): () => void => {
  let finished = false
  let unsubscribe = (): void => {}
  const finish = (result: Parameters<typeof done>[0]) => {
    if (finished) return
    cancel()
    done(result)
  }
  const cancel = () => {
    finished = true
    clearTimeout(timer)
    unsubscribe()
  }
  const check = () => {
    if (finished) return
    try {
      const found = find()
      if (found !== undefined) finish({ ok: true, value: found })
    } catch (error) {
      finish({ ok: false, error: asError(error) })
    }
  }
  const timer = setTimeout(() => finish({ ok: false, error: new Error(`timed out after ${timeoutMs} ms: ${describe()}`) }), timeoutMs)
  unsubscribe = subscribe(check)
  check()
  return cancel
}

/**
 * Succeeds with the first value `find` returns, re-checking on each change
 * `subscribe` announces; fails with what `find` throws, or after `timeoutMs`
 * with `describe()`. Interrupting it stops the wait.
 *
 * @example
 * ```ts
 * yield* waitUntil(subscribe, () => closed ? true : undefined, 10_000, () => "the connection did not close")
 * ```
 */
export const waitUntil = <A>(
  subscribe: Subscribe,
  find: () => A | undefined,
  timeoutMs: number,
  describe: () => string
): Effect.Effect<A, Error> =>
  Effect.callback<A, Error>((resume) => {
    const cancel = watchFor(subscribe, find, timeoutMs, describe, (result) =>
      resume(result.ok ? Effect.succeed(result.value) : Effect.fail(result.error)))
    return Effect.sync(cancel)
  })

/**
 * Resolves once `check()` holds, looking every 50 ms; rejects after `ms`
 * naming `what`. For what nothing announces, as a process that is not our
 * child ending.
 *
 * @example
 * ```ts
 * await pollUntil("every worker gone", () => !pids.some(alive), 10_000)
 * ```
 */
export const pollUntil = async (what: string, check: () => boolean, ms: number): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
