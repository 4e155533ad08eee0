import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { maxPayload, Reassembly, split } from "../src/internal/chunks.ts"

describe("chunks: messages larger than one NOTIFY payload", () => {
  it("a small message is one payload, itself", () => {
    assert.deepStrictEqual(split(`{"a":1}`), [`{"a":1}`])
  })

  it("pieces fit the payload limit in bytes, never split a character, and put back together exactly", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 30_000 }), fc.integer({ min: 40, max: maxPayload }), (text, max) => {
        const message = JSON.stringify(text)
        const payloads = split(message, max)
        for (const payload of payloads) assert.isAtMost(Buffer.byteLength(payload), max)
        for (const payload of payloads) assert.isTrue(payload.isWellFormed(), "a piece split a character")
        const reassembly = new Reassembly()
        const out = payloads.map((p) => reassembly.push(p)).filter((m) => m !== undefined)
        assert.deepStrictEqual(out, [message])
      }),
      { numRuns: 200 }
    )
  })

  it("a subscription that begins in the middle of a message drops that one and gets the next whole", () => {
    const big = JSON.stringify("é".repeat(10_000))
    const payloads = split(big)
    assert.isAbove(payloads.length, 2)
    const reassembly = new Reassembly()
    const out = [...payloads.slice(1), "1", ...payloads].map((p) => reassembly.push(p)).filter((m) => m !== undefined)
    assert.deepStrictEqual(out, ["1", big])
  })
})
