import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { rush } from "../src/rush.ts"
import { buyerScript, child, count, mainScript, tempDir } from "./helpers.ts"

describe("rush (one process per buyer)", () => {
  it.live("12 buyer processes, 5 tickets, the FileLock: exactly 5 sold, every buyer gets a clear answer", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const lines: Array<string> = []
      const report = yield* rush({ file, tickets: 5, buyers: 12, think: 10, hold: 10, onEvent: (l) => lines.push(l) })
      assert.strictEqual(report.sold, 5)
      assert.strictEqual(report.answers.length, 12)
      assert.deepStrictEqual(report.answers.map((a) => a.buyer).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1))
      assert.deepStrictEqual(report.answers.filter((a) => a.outcome === "error"), [])
      assert.strictEqual(report.answers.filter((a) => a.outcome === "sold out").length, 7)
      // Each sold ticket left a different count behind: 4, 3, 2, 1, 0.
      const left = report.answers.flatMap((a) => a.outcome === "ticket" ? [a.left] : []).sort()
      assert.deepStrictEqual(left, [0, 1, 2, 3, 4])
      assert.strictEqual(report.left, 0)
      assert.strictEqual(count(file), 0)
      assert.isFalse(report.oversold)
      assert.isFalse(fs.existsSync(`${file}.lock`))
      assert.include(lines.join("\n"), "sold 5 of 5 tickets to 12 buyers; 7 told sold out")
    })))

  it.live("the CLI's --no-lock rush oversells, and says that this is the point (read-to-write window widened)", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      // --think 0: all buyers search at the "go"; --hold 600: each keeps its read up to 0.6 s before writing,
      // so nearly every buyer reads 2 before anyone writes 1.
      const cli = yield* child(mainScript, ["rush", "--tickets", "2", "--buyers", "6", "--no-lock", "--think", "0", "--hold", "600", "--file", file])
      assert.strictEqual(yield* cli.exited, 0)
      const output = cli.output()
      assert.include(output, "NO LOCK")
      const sold = Number(/sold (\d+) of 2 tickets/.exec(output)?.[1])
      assert.isAbove(sold, 2, output)
      assert.include(output, `OVERSOLD by ${sold - 2}`)
      assert.include(output, "without the lock")
    })))

  it.live("a buyer SIGKILLed while holding the lock does not block the others (dead owner's lock taken over)", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      fs.writeFileSync(file, JSON.stringify({ count: 3 }))
      // A buyer that takes the lock and holds its read for a minute.
      const holder = yield* child(buyerScript, [file, "0", "lock", "0", "60000"])
      yield* holder.line("\"ready\"")
      yield* holder.send("go")
      yield* holder.line("\"holding\"")
      assert.isTrue(fs.existsSync(`${file}.lock`))
      // Four more buyers rush the same file (not rewritten) and queue on the lock.
      const others = yield* Effect.forkChild(rush({ file, buyers: 4, think: 0, hold: 5 }))
      yield* Effect.sleep("1500 millis")
      assert.isUndefined(others.pollUnsafe(), "the others wait while the holder lives")
      holder.proc.kill("SIGKILL")
      yield* holder.exited
      const killedAt = Date.now()
      const report = yield* Fiber.join(others).pipe(Effect.timeout("10 seconds"))
      // Well under FileLock's 10 s stale window: the dead pid is what frees the lock.
      assert.isBelow(Date.now() - killedAt, 8_000)
      assert.strictEqual(report.sold, 3, "the killed buyer wrote nothing; three tickets for the others")
      assert.strictEqual(report.answers.length, 4)
      assert.strictEqual(count(file), 0)
      assert.isFalse(fs.existsSync(`${file}.lock`))
    })), 30_000)
})
