import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SharedEvent } from "../src/index.ts"
import { start } from "./sharedHelpers.ts"

describe("SharedEvent", () => {
  it("a set in the main thread wakes a waiting worker (which stays alive meanwhile)", async () => {
    const event = await Effect.runPromise(SharedEvent.make)
    const worker = start({ job: "waitEvent", handle: event.handle })
    await new Promise((resolve) => setTimeout(resolve, 150))
    await Effect.runPromise(event.set)
    assert.strictEqual(await worker.done, "set")
  })
})
