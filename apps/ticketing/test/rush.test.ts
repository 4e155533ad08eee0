import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { rush } from "../src/rush.ts"
import { child, mainScript, reopen, tempDir } from "./helpers.ts"

describe("rush (buyers are ProcessPool tasks, started by a Manager barrier)", () => {
  for (const lock of ["file", "manager"] as const) {
    it.live(`5 buyer processes, 3 tickets, --lock ${lock}: exactly 3 sold, seats 1..3 each once, every buyer answers`, () =>
      Effect.scoped(Effect.gen(function*() {
        const dir = yield* tempDir
        const file = path.join(dir, "tickets.json")
        const lines: Array<string> = []
        const report = yield* rush({ file, tickets: 3, buyers: 5, lock, think: 5, hold: 5, onEvent: (l) => lines.push(l) })
        assert.strictEqual(report.sold, 3)
        assert.strictEqual(report.answers.length, 5)
        assert.deepStrictEqual(report.answers.filter((a) => a.outcome === "error"), [])
        assert.deepStrictEqual(report.answers.map((a) => a.buyer).sort((a, b) => a - b), [1, 2, 3, 4, 5])
        assert.deepStrictEqual(report.seats.map((s) => s.seat), [1, 2, 3])
        assert.strictEqual(report.left, 0)
        assert.isFalse(report.oversold)
        const seen = yield* reopen(file)
        assert.deepStrictEqual(seen.orders.map((o) => o.buyer).sort(), report.seats.map((s) => `buyer ${s.buyer}`).sort())
        assert.isFalse(fs.existsSync(`${file}.lock`))
        const out = lines.join("\n")
        assert.include(out, "sold 3 of 3 tickets to 5 buyers; 2 told sold out")
        assert.include(out, `seats: 1 → buyer ${report.seats[0]!.buyer}, 2 → buyer`)
        assert.include(out, lock === "file" ? "exact: the FileLock" : "exact: a Manager lock")
      })), 60_000)
  }

  it.live("the CLI's --no-lock rush oversells, and says that this is the point (read-to-write window widened)", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      // --think 0: all buyers look at the start; --hold 600: each keeps its read up to 0.6 s before writing.
      const cli = yield* child(mainScript, ["rush", "--tickets", "2", "--buyers", "5", "--no-lock", "--think", "0", "--hold", "600", "--file", file])
      assert.strictEqual(yield* cli.exited, 0)
      const output = cli.output()
      assert.include(output, "NO LOCK")
      const sold = Number(/sold (\d+) of 2 tickets/.exec(output)?.[1])
      assert.isAbove(sold, 2, output)
      assert.include(output, `OVERSOLD by ${sold - 2}`)
      assert.include(output, "without the lock")
      assert.match(output, /seats: 1 → buyer \d+, 1 → buyer/)
    })), 60_000)

  it.live("the CLI: bad flags are usage errors (exit 2)", () =>
    Effect.scoped(Effect.gen(function*() {
      for (const args of [["rush", "--lock", "maybe"], ["rush", "--lock", "file", "--no-lock"], ["serve", "--workers", "x"], ["serve", "--file", "a.json", "--data", "b"]]) {
        const cli = yield* child(mainScript, args)
        assert.strictEqual(yield* cli.exited, 2, args.join(" "))
        assert.include(cli.output(), "usage:")
      }
    })), 60_000)
})
