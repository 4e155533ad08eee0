import { assert, describe, it } from "@effect/vitest"
import { Costs, record, TARGET_MILLIS } from "../../src/internal/cost.ts"
import { Slot } from "../../src/internal/slot.ts"
import { type Task, Tasks, TaskState } from "../../src/internal/task.ts"

const costs = new Costs()
record(costs.of("tiny"), 0.5)
record(costs.of("slow"), TARGET_MILLIS * 10)
const none = () => {}

const send = (tasks: Tasks, slot: Slot, task: Task, to: TaskState) => {
  task.worker = slot
  slot.inflight.push(task)
  tasks.moveTo(task, to)
}
const make = (tasks: Tasks, name: string) => tasks.make(name, [], undefined, costs.of(name), none)
const leave = (tasks: Tasks, slot: Slot, task: Task, to: TaskState) => {
  slot.inflight.splice(slot.inflight.indexOf(task), 1)
  tasks.moveTo(task, to)
}

describe("Tasks", () => {
  it("a task waits while queued or sent behind a running one, and stops waiting once it runs or settles", () => {
    const tasks = new Tasks()
    const slot = new Slot(1)
    const a = make(tasks, "tiny")
    const b = make(tasks, "tiny")
    assert.strictEqual(tasks.waiting, 2)
    send(tasks, slot, a, TaskState.running)
    send(tasks, slot, b, TaskState.sent)
    assert.strictEqual(tasks.waiting, 1)
    leave(tasks, slot, a, TaskState.settled)
    tasks.moveTo(b, TaskState.running)
    assert.strictEqual(tasks.waiting, 0)
    // Given back before it started: it waits again.
    leave(tasks, slot, b, TaskState.queued)
    assert.strictEqual(tasks.waiting, 1)
    tasks.moveTo(b, TaskState.settled)
    assert.strictEqual(tasks.waiting, 0)
  })

  it("a cancelled task stops waiting at once, and its later moves do not count", () => {
    const tasks = new Tasks()
    const slot = new Slot(2)
    const queued = make(tasks, "tiny")
    const sent = make(tasks, "tiny")
    const head = make(tasks, "tiny")
    send(tasks, slot, head, TaskState.running)
    send(tasks, slot, sent, TaskState.sent)
    assert.strictEqual(tasks.waiting, 2)
    tasks.cancel(queued)
    assert.strictEqual(queued.state, TaskState.settled)
    assert.strictEqual(queued.settle, undefined)
    tasks.cancel(sent)
    tasks.cancel(sent)
    assert.strictEqual(tasks.waiting, 0)
    leave(tasks, slot, head, TaskState.settled)
    tasks.moveTo(sent, TaskState.running)
    leave(tasks, slot, sent, TaskState.settled)
    assert.strictEqual(tasks.waiting, 0)
  })

  it("a task joins its worker's load when sent and leaves it when it settles or is requeued", () => {
    const tasks = new Tasks()
    const slot = new Slot(3)
    const tiny = make(tasks, "tiny")
    const slow = make(tasks, "slow")
    send(tasks, slot, tiny, TaskState.running)
    send(tasks, slot, slow, TaskState.sent)
    assert.deepStrictEqual([slot.load, slot.heavy], [0.5, 1])
    tasks.moveTo(tiny, TaskState.running) // no move: the load stays
    assert.deepStrictEqual([slot.load, slot.heavy], [0.5, 1])
    leave(tasks, slot, slow, TaskState.queued)
    assert.deepStrictEqual([slot.load, slot.heavy], [0.5, 0])
    leave(tasks, slot, tiny, TaskState.settled)
    assert.deepStrictEqual([slot.load, slot.heavy], [0, 0])
  })
})
