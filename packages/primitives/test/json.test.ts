import { assert, describe, it } from "@effect/vitest"
import { InvalidArgumentError } from "../src/index.ts"
import { problem, stringify } from "../src/json.ts"

describe("json", () => {
  it("problem: plain JSON values pass; what JSON would change or drop is named with its path", () => {
    assert.isUndefined(problem({ a: [1, "x", null, true, { b: undefined }] }, "args"))
    assert.strictEqual(problem([1, 2n], "args"), "args[1] is a bigint, which JSON cannot carry")
    assert.include(problem({ at: new Date(0) }, "args[0]"), "args[0].at is a Date")
    assert.include(problem({ f: () => 1 }, "v"), "v.f is a function")
    assert.include(problem([Number.NaN], "v"), "v[0] is NaN")
    assert.include(problem(new Map(), "v"), "v is a Map")
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.include(problem(cyclic, "v"), "v.self is part of a cycle")
    // the same object twice (not a cycle) is fine
    const shared = { n: 1 }
    assert.isUndefined(problem([shared, shared], "v"))
  })

  it("stringify: what JSON can send passes (changed its documented way); the rest is refused", () => {
    assert.strictEqual(stringify("Q.put", { at: new Date(0) }), "{\"at\":\"1970-01-01T00:00:00.000Z\"}")
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [cyclic, () => 1, undefined, Symbol("s"), 1n]) {
      const error = stringify("Q.put", bad)
      assert.instanceOf(error, InvalidArgumentError)
      assert.strictEqual((error as InvalidArgumentError).argument, "item")
    }
  })
})
