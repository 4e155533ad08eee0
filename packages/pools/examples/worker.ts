// The worker module of the README's examples.
import { currentSignal, defineWorker } from "@weft/pools/worker"
import { Effect } from "effect"

export default defineWorker({
  inc: (x: number) => x + 1,
  fib: (n: number): number => (n < 2 ? n : fibSync(n - 1) + fibSync(n - 2)),
  slow: async (ms: number) => {
    const signal = currentSignal() // aborted when the task is cancelled
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms)
      signal.addEventListener("abort", () => {
        clearTimeout(timer)
        reject(signal.reason)
      })
    })
    return ms
  },
  square: (x: number) => Effect.succeed(x * x)
})

function fibSync(n: number): number {
  return n < 2 ? n : fibSync(n - 1) + fibSync(n - 2)
}
