import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { argv } from "@weft/testkit"

// The README's examples are real programs in examples/: each runs here, on
// the runtime running this suite, against the built package.
const run = (name: string): string => {
  const file = fileURLToPath(new URL(`../examples/${name}.ts`, import.meta.url))
  const [command, ...args] = argv(file)
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 30_000 })
  expect(result.stderr).toBe("")
  expect(result.status).toBe(0)
  return result.stdout
}

describe("README examples", () => {
  it("lock: the ticket rush sells exactly the 3 tickets", () => {
    const out = run("lock")
    expect(out.match(/got a ticket/g)).toHaveLength(3)
    expect(out.match(/sold out/g)).toHaveLength(2)
    expect(out).toContain("left: 0")
  })

  it("rlock: nests, and refuses a release from another fiber", () => {
    expect(run("rlock")).toBe("nested 5 levels deep\nNotOwnerError\n")
  })

  it("semaphore: 4 rooms, never more than 4 groups inside", () => {
    expect(run("semaphore")).toBe(
      "at most 4 groups sang at once\nBoundedSemaphore.release(1): 4 of 4 permits are already available\n"
    )
  })

  it("event: cars wait for green, then all drive", () => {
    const lines = run("event").trim().split("\n")
    expect(lines[0]).toBe("red: waiting for green? true")
    expect(lines.slice(1).sort()).toEqual(["car 1 drives", "car 2 drives", "car 3 drives"])
  })

  it("timer: one fires, the cancelled one does not", () => {
    expect(run("timer")).toBe("hello, world\ncancelled\n")
  })

  it("condition: notify(3) wakes the three consumers, each gets one item", () => {
    const out = run("condition").trim().split("\n")
    expect(out.slice(0, 3)).toEqual(["c1 got apple", "c2 got pear", "c3 got plum"])
    expect(out[3]).toBe("Condition.wait: the lock is not held")
  })

  it("barrier: the action runs once per lap; a lone waiter breaks it", () => {
    expect(run("barrier")).toBe("lap 1: all 3 ready\nlap 2: all 3 ready\nBrokenBarrierError: timeout\n")
  })

  it("queue: the consumers eat every item once and stop on the sentinels", () => {
    expect(run("queue")).toBe("eaten: 1,2,3,4,5,6\nlifo: b, priority: high\nQueueFullError\n")
  })

  it("scopes: the same deposit code is exact between fibers, threads and processes", () => {
    expect(run("scopes")).toBe(
      "fibers (Lock): 200\nthreads (SharedLock): 200\nprocesses (manager.lock()): 200\nprocesses (FileLock): 200\n"
    )
  })

  it("hangs: the lock-order, relock and deadlock errors, then a dump of who holds and who waits", () => {
    const lines = run("hangs").trim().split("\n")
    expect(lines[0]).toMatch(/^LockOrderError: lock order: taking accounts while holding audit \(monthlyReport \(.*hangs\.ts:\d+:\d+\), fiber #\d+\) inverts accounts -> audit \(first seen at transfer /)
    expect(lines[1]).toMatch(/^RelockError: accounts: fiber #\d+ already holds this lock \(taken at refund /)
    expect(lines[2]).toMatch(/^DeadlockError: deadlock: fiber #(\d+) waits for inventory held by fiber #(\d+); fiber #\2 waits for orders held by fiber #\1$/)
    expect(lines[3]).toBe("first done")
    expect(lines[4]).toMatch(/^Weft dump pid \d+ \(hangs example\) on .* thread 0 at .*: 5 primitives$/)
    expect(lines[6]).toBe(`"tickets" Lock (fiber): held by 1, 3 waiting`)
    expect(lines[7]).toMatch(/^ {4}held by fiber #\d+, for \d+ms, at checkout \(/)
    expect(lines.slice(8, 11).every((l) => /^ {4}waiting fiber #\d+, for \d+ms, at checkout/.test(l))).toBe(true)
    expect(lines.filter((l) => /^ {2}\S+Z (LockOrderError|RelockError|DeadlockError) \(fiber\)/.test(l))).toHaveLength(3)
  })
})
