/**
 * The car side of the thread and process scopes: the same `car` as the fiber
 * scope, attached to the light it was handed.
 *
 * - In a worker thread (`workerData` is a `Job<SharedEvent.Handle>`): the light
 *   is `SharedEvent.attach(handle)`; messages go through `parentPort`.
 * - In a child process (argv[2] is a JSON `Job<Manager.Handle<"event">>`): the
 *   light is `Manager.attach(handle)`; messages go through the IPC channel.
 *
 * It attaches, says `ready`, waits for `go` (the shared start time), then runs
 * `car` and reports each entry back. The parent stops it once it has passed.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads"
import { Effect } from "effect"
import { Manager, SharedEvent, type Event } from "@weft/primitives"
import type { Job, Message } from "./scopes.ts"
import { car } from "./simulation.ts"

const drive = async (
  attach: Effect.Effect<Event.Event, unknown>,
  job: Job<unknown>,
  send: (message: Message) => void,
  onGo: (listener: (message: Message) => void) => void
): Promise<void> => {
  const light = await Effect.runPromise(attach)
  const start = await new Promise<number>((resolve) => {
    onGo((message) => {
      if (message.type === "go") resolve(message.start)
    })
    send({ type: "ready" })
  })
  await Effect.runPromise(car(light, job.car, job.arriveAt, start, (entry) => Effect.sync(() => send({ type: "entry", entry }))))
}

if (!isMainThread && parentPort) {
  const port = parentPort
  const job = workerData as Job<SharedEvent.Handle>
  await drive(SharedEvent.attach(job.handle), job, (m) => port.postMessage(m), (listener) => port.on("message", listener))
} else if (process.send && process.argv[2]) {
  const job = JSON.parse(process.argv[2]) as Job<Manager.Handle<"event">>
  await drive(Manager.attach(job.handle), job, (m) => process.send!(m), (listener) => process.on("message", listener as (m: unknown) => void))
} else {
  console.error("car.ts is the car side of the traffic light; run src/main.ts instead")
  process.exit(2)
}
