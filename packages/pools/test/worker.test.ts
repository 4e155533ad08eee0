import { assert, describe, it } from "@effect/vitest"
import { currentSignal, defineWorker, isWorkerDefinition, transfer } from "../src/worker.ts"
import * as Index from "../src/index.ts"

describe("worker", () => {
  it("defineWorker brands an object of task functions", () => {
    const definition = defineWorker({ inc: (x: number) => x + 1 })
    assert.isTrue(isWorkerDefinition(definition))
    assert.strictEqual(definition.tasks.inc(1), 2)
    assert.isFalse(isWorkerDefinition({ inc: (x: number) => x + 1 }))
    assert.isFalse(isWorkerDefinition(null))
  })

  it("defineWorker refuses what is not a function, naming the task", () => {
    assert.throws(() => defineWorker({ inc: 1 } as any), /task "inc" must be a function, got number/)
    assert.throws(() => defineWorker(null as any), /expected an object of task functions/)
  })

  it("transfer moves the buffer of an ArrayBuffer or a typed array by default", () => {
    const buffer = new ArrayBuffer(8)
    assert.deepStrictEqual(transfer(buffer).transferList, [buffer])
    const bytes = new Uint8Array(4)
    assert.deepStrictEqual(transfer(bytes).transferList, [bytes.buffer])
    assert.deepStrictEqual(transfer({ a: 1 }).transferList, [])
    assert.strictEqual(transfer(buffer, []).transferList.length, 0)
  })

  it("currentSignal outside a task is an error that says where to call it", () => {
    assert.throws(() => currentSignal(), /synchronously at the start of a pool task/)
  })

  it("the same names are exported from @weft/pools", () => {
    assert.strictEqual(Index.defineWorker, defineWorker)
    assert.strictEqual(Index.transfer, transfer)
    assert.strictEqual(Index.currentSignal, currentSignal)
  })
})
