import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { argv } from "@weft/testkit"

// The README's examples are real programs in examples/: each runs here, on
// the runtime running this suite, against the built package.
const run = (name: string): Array<string> => {
  const file = fileURLToPath(new URL(`../examples/${name}.ts`, import.meta.url))
  const [command, ...args] = argv(file)
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 60_000 })
  expect(result.stderr).toBe("")
  expect(result.status).toBe(0)
  return result.stdout.trim().split("\n")
}

describe("README examples", () => {
  it("thread pool: submit, map, a stream of results, an Effect task, a cancelled task", () => {
    const lines = run("thread-pool")
    expect(lines[0]).toBe("inc(1) = 2")
    expect(lines[1]).toBe("fib: 6765, 75025, 832040")
    const streamed = lines[2]!.replace("slow, as they finished: ", "").split(", ").map(Number)
    expect([...streamed].sort((a, b) => a - b)).toEqual([100, 200, 300])
    expect(lines.slice(3)).toEqual(["square(12) = 144", "the 60 s task: cancelled", "completed 8, cancelled 1"])
  })

  it("the Promise face: pool.run with await, a rejection, then the scope closes", () => {
    expect(run("promise")).toEqual(["inc(1) = 2", "fib: 6765, 75025, 832040", "rejected: InvalidArgumentError"])
  })

  it("process pool: apply_async with callbacks, close, join, then refused", () => {
    expect(run("process-pool")).toEqual([
      "results: 6765, 6765, 10946, 10946, 17711, 17711",
      "after close: PoolClosedError"
    ])
  })
})
