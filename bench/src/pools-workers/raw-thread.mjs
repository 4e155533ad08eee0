// The physical-limit row: a hand-written worker_threads worker, one message per task.
import { parentPort } from "node:worker_threads"
parentPort.on("message", (m) => parentPort.postMessage([m[0], m[1] + 1]))
