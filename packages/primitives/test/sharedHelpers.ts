// Worker helpers for the Shared* tests: run a job of test/fixtures/shared-worker.ts
// in a real worker thread.
import { Worker } from "node:worker_threads"

export const workerUrl = new URL("./fixtures/shared-worker.ts", import.meta.url)

export { runtime } from "@weft/testkit"

export interface Running {
  readonly worker: Worker
  /** Resolves with the next message that has `key`. */
  next(key: string): Promise<Record<string, unknown>>
  /** Resolves with the job's result, rejects with its error. */
  readonly done: Promise<unknown>
  terminate(): Promise<unknown>
}

export const start = (job: Record<string, unknown>): Running => {
  const worker = new Worker(workerUrl, { workerData: job })
  const listeners: Array<(message: Record<string, unknown>) => void> = []
  const seen: Array<Record<string, unknown>> = []
  worker.on("message", (message: Record<string, unknown>) => {
    seen.push(message)
    for (const listener of listeners.splice(0)) listener(message)
  })
  const next = (key: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const found = seen.find((m) => key in m)
      if (found) return resolve(found)
      const listen = (message: Record<string, unknown>) => {
        if (key in message) resolve(message)
        else listeners.push(listen)
      }
      listeners.push(listen)
    })
  const done = new Promise<unknown>((resolve, reject) => {
    worker.on("error", reject)
    // Messages posted just before exit may arrive after the exit event: give them a moment.
    worker.on("exit", (code) => setTimeout(() => reject(new Error(`worker exited (${code}) before it was done`)), 100))
    next("done").then((m) => resolve(m.value), reject)
    next("error").then((m) => reject(new Error(String(m.error))), reject)
  })
  done.catch(() => {})
  return { worker, next, done, terminate: () => worker.terminate() }
}
