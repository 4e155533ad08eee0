// The physical-limit row: a hand-written worker_threads worker, one message per task.
// [id, x] -> [id, x + 1]; [id, { cpu: ms }] spins for ms first.
import { parentPort } from "node:worker_threads"
parentPort.on("message", (m) => {
  const x = m[1]
  if (typeof x === "number") return parentPort.postMessage([m[0], x + 1])
  const end = performance.now() + x.cpu
  let n = 0
  while (performance.now() < end) n++
  parentPort.postMessage([m[0], n])
})
