import { assert, describe, it } from "@effect/vitest"
import {
  InvalidArgumentError,
  PoolClosedError,
  PoolFullError,
  PoolRunningError,
  TaskError,
  TaskTimeoutError,
  WorkerCrashedError
} from "../src/errors.ts"

describe("errors", () => {
  it("each error is tagged and its message names what went wrong", () => {
    const cases: Array<[{ _tag: string; message: string }, string, string]> = [
      [new TaskError({ pool: "ThreadPool", task: "parse", remoteName: "SyntaxError", remoteMessage: "bad json", remoteStack: undefined }), "TaskError", "ThreadPool task parse failed: SyntaxError: bad json"],
      [new WorkerCrashedError({ pool: "ProcessPool", task: "work", workerId: 3, exitCode: null, signal: "SIGKILL", reason: undefined }), "WorkerCrashedError", "ProcessPool worker 3 crashed while running task work (signal SIGKILL)"],
      [new WorkerCrashedError({ pool: "ThreadPool", task: "work", workerId: 1, exitCode: 1, signal: null, reason: "Error: boom" }), "WorkerCrashedError", "ThreadPool worker 1 crashed while running task work (exit code 1): Error: boom"],
      [new PoolClosedError({ pool: "ThreadPool", operation: "submit", state: "closed" }), "PoolClosedError", "ThreadPool.submit: the pool is closed"],
      [new PoolRunningError({ pool: "ProcessPool", operation: "join" }), "PoolRunningError", "ProcessPool.join: the pool is still running; call close or terminate first"],
      [new PoolFullError({ pool: "ThreadPool", maxQueued: 100 }), "PoolFullError", "ThreadPool is full: 100 tasks are already queued (maxQueued 100)"],
      [new TaskTimeoutError({ pool: "ProcessPool", task: "spin", timeoutMillis: 500 }), "TaskTimeoutError", "ProcessPool task spin timed out after 500 ms"],
      [new InvalidArgumentError({ operation: "ThreadPool.make", argument: "size", value: 0, expected: "an integer >= 1" }), "InvalidArgumentError", "ThreadPool.make: size must be an integer >= 1, got 0"]
    ]
    for (const [error, tag, message] of cases) {
      assert.strictEqual(error._tag, tag)
      assert.strictEqual(error.message, message)
      assert.instanceOf(error, Error)
    }
  })

  it("InvalidArgumentError describes functions and unserializable values", () => {
    const f = new InvalidArgumentError({ operation: "op", argument: "x", value: function named() {}, expected: "data" })
    assert.include(f.message, "a function (named)")
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.include(new InvalidArgumentError({ operation: "op", argument: "x", value: cyclic, expected: "data" }).message, "[object Object]")
  })
})
