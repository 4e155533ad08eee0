// queue.Queue: a producer and two consumers; the producer ends with one None
// sentinel per consumer, and join() waits until every item was task_done().
import { Effect, Order } from "effect"
import { Queue } from "@weft/primitives"

const program = Effect.gen(function*() {
  const queue = yield* Queue.fifo<number | null>(2) // bounded: put waits while full
  const eaten: Array<number> = []
  const consumer = Effect.gen(function*() {
    while (true) {
      const item = yield* queue.get
      yield* queue.taskDone
      if (item === null) return
      eaten.push(item)
    }
  })
  const producer = Effect.gen(function*() {
    for (let i = 1; i <= 6; i++) yield* queue.put(i)
    yield* queue.put(null)
    yield* queue.put(null)
  })
  yield* Effect.all([producer, consumer, consumer], { concurrency: "unbounded" })
  yield* queue.join
  console.log(`eaten: ${eaten.sort((a, b) => a - b).join(",")}`)

  // LIFO and priority queues, and the non-blocking forms.
  const stack = yield* Queue.lifo<string>()
  yield* stack.put("a")
  yield* stack.put("b")
  const tasks = yield* Queue.priority(Order.mapInput(Order.Number, (t: [number, string]) => t[0]))
  yield* tasks.put([3, "low"])
  yield* tasks.put([1, "high"])
  console.log(`lifo: ${yield* stack.get}, priority: ${(yield* tasks.get)[1]}`)
  const full = yield* Queue.fifo<number>(1)
  yield* full.putNowait(1)
  console.log((yield* Effect.flip(full.putNowait(2)))._tag)
})

Effect.runPromise(Effect.orDie(program))
