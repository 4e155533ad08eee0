import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Store from "../src/store.ts"
import { count, tempDir } from "./helpers.ts"

describe("TicketStore", () => {
  it.live("search, buy until sold out, reset", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)
      yield* store.reset(2)
      assert.strictEqual(yield* store.search, 2)
      assert.deepStrictEqual(yield* store.buy, { ok: true, left: 1 })
      assert.deepStrictEqual(yield* store.buy, { ok: true, left: 0 })
      assert.deepStrictEqual(yield* store.buy, { ok: false, left: 0 })
      assert.strictEqual(count(file), 0)
      assert.isFalse(fs.existsSync(store.lockFile), "the lock file is gone after each buy")
      assert.deepStrictEqual(fs.readdirSync(dir), ["tickets.json"], "no temporary file left behind")
    })))

  it.live("in one process, fibers: exact under the lock; oversold without it (a wide read-to-write window)", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const rushOn = (lock: boolean) =>
        Effect.gen(function*() {
          const file = path.join(dir, `${lock}.json`)
          const store = yield* Store.make(file, { lock, hold: Effect.sleep("30 millis") })
          yield* store.reset(2)
          const purchases = yield* Effect.all(Array.from({ length: 6 }, () => store.buy), { concurrency: "unbounded" })
          return purchases.filter((p) => p.ok).length
        })
      assert.strictEqual(yield* rushOn(true), 2)
      // Every buyer reads 2 before anyone writes 1: the race is real, and the lock is what closes it.
      assert.strictEqual(yield* rushOn(false), 6)
    })))

  it.live("a missing or corrupt ticket file: a TicketFileError naming the file and the problem; nothing written", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)

      const missing = yield* Effect.flip(store.buy)
      assert.strictEqual(missing._tag, "TicketFileError")
      assert.strictEqual(missing.file, file)
      assert.include(missing.message, `ticket file ${file}: missing`)
      assert.isFalse(fs.existsSync(file))

      const cases: Array<[string, string]> = [
        ["{\"cou", "not valid JSON"],
        ["", "not valid JSON"],
        ["{\"count\": -1}", "expected {\"count\": <non-negative integer>}, found {\"count\":-1}"],
        ["{\"count\": \"3\"}", "found {\"count\":\"3\"}"],
        ["{\"count\": 1.5}", "found {\"count\":1.5}"],
        ["[3]", "found [3]"],
        ["null", "found null"]
      ]
      for (const [content, problem] of cases) {
        fs.writeFileSync(file, content)
        for (const op of [store.search, store.buy] as Array<Effect.Effect<unknown, Store.TicketFileError>>) {
          const error = yield* Effect.flip(op)
          assert.strictEqual(error._tag, "TicketFileError")
          assert.include(error.message, file)
          assert.include(error.message, "corrupt")
          assert.include(error.message, problem)
        }
        assert.strictEqual(fs.readFileSync(file, "utf8"), content, "a corrupt file is left as it was")
        assert.isFalse(fs.existsSync(store.lockFile))
      }
      // reset repairs it
      yield* store.reset(1)
      assert.strictEqual(yield* store.search, 1)
    })))

  it.live("reset validates: a non-negative integer, else InvalidCountError", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* Store.make(path.join(dir, "tickets.json"))
      yield* store.reset(0)
      for (const bad of [-1, 1.5, "3", null, undefined, Number.NaN, Infinity, 2 ** 60]) {
        const error = yield* Effect.flip(store.reset(bad))
        assert.strictEqual(error._tag, "InvalidCountError")
        assert.include(error.message, "count must be a non-negative integer")
      }
      assert.strictEqual(yield* store.search, 0)
    })))
})
