/**
 * A pool as its users see it: the Effect API (`submit`, `map`, `imap`,
 * `applyAsync`, `close`, `join`, ...) and the Promise face (`run`) over the
 * dispatch core. Bulk calls keep at most `maxQueued` tasks outstanding.
 *
 * @internal
 */
import { Cause, Deferred, Effect, Queue, Stream } from "effect"
import { PoolRunningError } from "../errors.ts"
import type { AsyncResult, Callbacks, Pool, SubmitError } from "../Pool.ts"
import type { Config, Core } from "./core.ts"
import { asThrown } from "./thrown.ts"
import type { Task } from "./task.ts"

export const terminateAndWait = (core: Core): Effect.Effect<void> =>
  Effect.suspend(() => {
    core.terminate()
    return Effect.callback<void>((resume) => core.whenExited(() => resume(Effect.void)))
  })

/** The Effect API (and the Promise face) over a started core. */
export const poolOf = (core: Core, config: Config): Pool<any> => {
  // Bulk calls keep at most maxQueued tasks outstanding, so they alone never overflow the queue.
  const window = config.maxQueued

  // The Promise face: straight onto the core, no fiber. A task's error comes
  // back as the error it threw (Weft's TaskError in its `cause`).
  const run = (name: string, ...args: Array<unknown>): Promise<unknown> =>
    new Promise((resolve, reject) => {
      core.submit(name, args, (ok, value) => (ok ? resolve(value) : reject(asThrown(value))))
    })

  const submit = (name: string, ...args: Array<unknown>): Effect.Effect<any, SubmitError> =>
    Effect.callback<any, SubmitError>((resume) => {
      const task = core.submit(name, args, (ok, value) => resume(ok ? Effect.succeed(value) : Effect.fail(value as SubmitError)))
      if (task !== undefined) return Effect.sync(() => core.cancel(task))
    })

  /**
   * Runs `name` over `inputs` keeping at most `window` tasks outstanding;
   * `onResult(index, value)` for each success, `onEnd(error?)` once.
   */
  const runMany = (
    name: string,
    inputs: Iterable<unknown>,
    onResult: (index: number, value: unknown) => void,
    onEnd: (error: SubmitError | undefined) => void
  ): () => void => {
    const items = Array.from(inputs)
    const outstanding = new Set<Task>()
    let next = 0
    let done = 0
    let ended = false
    const end = (error: SubmitError | undefined) => {
      if (ended) return
      ended = true
      for (const task of outstanding) core.cancel(task)
      outstanding.clear()
      onEnd(error)
    }
    const launch = () => {
      while (!ended && next < items.length && outstanding.size < window) {
        const index = next++
        let task: Task | undefined = undefined
        let settled = false
        task = core.submit(name, [items[index]], (ok, value) => {
          settled = true
          if (task !== undefined) outstanding.delete(task)
          if (ended) return
          if (!ok) return end(value as SubmitError)
          onResult(index, value)
          if (++done === items.length) return end(undefined)
          if (next < items.length) launch()
        })
        if (task !== undefined && !settled) outstanding.add(task)
      }
    }
    if (items.length === 0) end(undefined)
    else launch()
    return () => end(undefined)
  }

  const map = (name: string, inputs: Iterable<unknown>) =>
    Effect.callback<Array<unknown>, SubmitError>((resume) => {
      const results: Array<unknown> = []
      const cancel = runMany(name, inputs, (i, v) => {
        results[i] = v
      }, (error) => resume(error === undefined ? Effect.succeed(results) : Effect.fail(error)))
      return Effect.sync(cancel)
    })

  const imapUnordered = (name: string, inputs: Iterable<unknown>) =>
    Stream.callback<unknown, SubmitError>((queue) =>
      Effect.gen(function*() {
        const cancel = runMany(name, inputs, (_, v) => {
          Queue.offerUnsafe(queue, v)
        }, (error) => {
          if (error === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(error))
        })
        yield* Effect.addFinalizer(() => Effect.sync(cancel))
      })
    )

  const imap = (name: string, inputs: Iterable<unknown>) =>
    Stream.callback<unknown, SubmitError>((queue) =>
      Effect.gen(function*() {
        const held = new Map<number, unknown>()
        let nextOut = 0
        const cancel = runMany(name, inputs, (i, v) => {
          held.set(i, v)
          while (held.has(nextOut)) {
            Queue.offerUnsafe(queue, held.get(nextOut))
            held.delete(nextOut++)
          }
        }, (error) => {
          if (error === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(error))
        })
        yield* Effect.addFinalizer(() => Effect.sync(cancel))
      })
    )

  const applyAsync = (name: string, args: ReadonlyArray<unknown>, callbacks?: Callbacks<any>) =>
    Effect.sync((): AsyncResult<any> => {
      const deferred = Deferred.makeUnsafe<any, SubmitError>()
      core.submit(name, args, (ok, value) => {
        try {
          if (ok) callbacks?.onSuccess?.(value)
          else callbacks?.onError?.(value as SubmitError)
        } catch (error) {
          console.error(`${core.pool}.applyAsync(${JSON.stringify(name)}): a callback threw`, error)
        }
        Deferred.doneUnsafe(deferred, ok ? Effect.succeed(value) : Effect.fail(value as SubmitError))
      })
      return {
        get: Deferred.await(deferred),
        wait: Effect.asVoid(Effect.exit(Deferred.await(deferred))),
        ready: Deferred.isDone(deferred)
      }
    })

  return {
    kind: core.pool,
    submit,
    apply: submit,
    map,
    imap,
    imapUnordered,
    applyAsync,
    stats: Effect.sync(() => core.stats()),
    close: Effect.sync(() => core.close()),
    terminate: terminateAndWait(core),
    join: Effect.suspend(() =>
      core.state === "open"
        ? Effect.fail(new PoolRunningError({ pool: core.pool, operation: "join" }))
        : Effect.callback<void>((resume) => core.whenExited(() => resume(Effect.void)))
    ),
    run
  } as Pool<any>
}
