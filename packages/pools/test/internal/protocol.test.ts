import { assert, describe, it } from "@effect/vitest"
import { attachableHandle, jsonProblem, toRemoteError } from "../../src/internal/protocol.ts"

describe("protocol", () => {
  it("jsonProblem accepts plain JSON data", () => {
    for (const ok of [1, "s", true, null, undefined, [1, [2]], { a: { b: [null] } }, Object.create(null)]) {
      assert.isUndefined(jsonProblem(ok, "argument 0"))
    }
  })

  it("jsonProblem names where a value JSON would drop or change is", () => {
    const cyclic: Array<unknown> = []
    cyclic.push(cyclic)
    const cases: Array<[unknown, string]> = [
      [Number.POSITIVE_INFINITY, "argument 0 is Infinity"],
      [{ a: 1n }, "argument 0.a is a bigint"],
      [[1, () => 2], "argument 0[1] is a function"],
      [Symbol("x"), "argument 0 is a symbol"],
      [new Set(), "argument 0 is a Set"],
      [cyclic, "argument 0[0] is part of a cycle"]
    ]
    for (const [value, message] of cases) {
      assert.include(jsonProblem(value, "argument 0"), message)
      // the worker's copy says what the shared check (used for arguments) says
    }
    // the same object twice (not a cycle) is fine
    const shared = { x: 1 }
    assert.isUndefined(jsonProblem([shared, shared], "argument 0"))
  })

  it("toRemoteError keeps name, message and stack; wraps thrown non-errors", () => {
    const e = toRemoteError(new TypeError("bad"))
    assert.strictEqual(e.name, "TypeError")
    assert.strictEqual(e.message, "bad")
    assert.include(e.stack, "bad")
    const tagged = toRemoteError({ _tag: "MyError", message: "tagged" })
    assert.deepStrictEqual([tagged.name, tagged.message], ["MyError", "tagged"])
    const plain = toRemoteError(42)
    assert.deepStrictEqual([plain.message, plain.value], ["42", 42])
  })

  it("attachableHandle finds the handle of a Weft primitive, or the handle itself", () => {
    const handle = { _tag: "SharedLock", buffer: new SharedArrayBuffer(8) }
    assert.strictEqual(attachableHandle({ handle }), handle)
    assert.strictEqual(attachableHandle(handle), handle)
    assert.isUndefined(attachableHandle({ handle: { _tag: "Other" } }))
    assert.isUndefined(attachableHandle({ _tag: "Some" }))
    assert.isUndefined(attachableHandle(new Map()))
  })
})
