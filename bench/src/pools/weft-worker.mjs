// Weft worker for the pools bench: the tiny task and a ~1 ms CPU task.
import { defineWorker } from "@weft/pools/worker"

export default defineWorker({
  inc: (x) => x + 1,
  cpu: (ms) => {
    const end = performance.now() + ms
    let n = 0
    while (performance.now() < end) n++
    return n
  }
})
