import { assert, describe, it } from "@effect/vitest"
import { Costs, fits, load, MAX_DEPTH, OVERDUE_MILLIS, record, TARGET_MILLIS, unload } from "../../src/internal/cost.ts"
import { Slot } from "../../src/internal/slot.ts"
import { Task } from "../../src/internal/task.ts"

const costs = new Costs()
let nextId = 1
const task = (name: string) => new Task(nextId++, name, [], undefined, 0, costs.of(name), undefined)
const send = (slot: Slot, t: Task) => {
  slot.inflight.push(t)
  load(slot, t)
}

describe("cost", () => {
  it("a name is unknown (infinitely costly) until measured; one slow run raises it at once, fast runs lower it slowly", () => {
    const cost = new Costs().of("job")
    assert.strictEqual(cost.millis, Number.POSITIVE_INFINITY)
    record(cost, 0.01)
    assert.strictEqual(cost.millis, 0.01)
    record(cost, 150)
    assert.strictEqual(cost.millis, 150)
    record(cost, 0.01)
    assert.isAbove(cost.millis, 100)
    for (let i = 0; i < 40; i++) record(cost, 0.01)
    assert.isBelow(cost.millis, 0.1)
  })

  it("an idle worker takes any task; nothing waits behind an unknown or slow one", () => {
    const slot = new Slot(1)
    const unknown = task("never-run")
    assert.isTrue(fits(slot, unknown, 0))
    send(slot, unknown)
    record(costs.of("tiny"), 0.001)
    assert.isFalse(fits(slot, task("tiny"), 0))
    slot.inflight.length = 0
    unload(slot, unknown)
    assert.deepStrictEqual([slot.load, slot.heavy], [0, 0])
  })

  it("tiny tasks stack up to MAX_DEPTH; a slow one does not join them; an overdue head stops the stacking", () => {
    const slot = new Slot(2)
    record(costs.of("tiny"), 0.001)
    record(costs.of("slow"), TARGET_MILLIS * 10)
    while (fits(slot, task("tiny"), 0)) send(slot, task("tiny"))
    assert.strictEqual(slot.inflight.length, MAX_DEPTH)
    slot.inflight.length = 1
    slot.load = 0.001
    assert.isFalse(fits(slot, task("slow"), 0))
    assert.isTrue(fits(slot, task("tiny"), OVERDUE_MILLIS))
    assert.isFalse(fits(slot, task("tiny"), OVERDUE_MILLIS + 1))
  })

  it("tasks of about 1 ms go two to a worker (one running, one ready behind it)", () => {
    const slot = new Slot(3)
    record(costs.of("ms"), 1.02)
    let sent = 0
    while (fits(slot, task("ms"), 0)) {
      send(slot, task("ms"))
      sent++
    }
    assert.strictEqual(sent, 2)
  })
})
