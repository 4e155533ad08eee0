/**
 * weft chat-server — a multi-process TCP chat.
 *
 *   node src/main.ts [--port 0] [--http-port 0] [--workers 2] [--max-line 4096]
 *
 * The primary forks the workers (node:cluster) and serves the HTTP side; each
 * worker runs this same file and takes the worker branch.
 */
import cluster from "node:cluster"
import * as os from "node:os"
import { parseArgs } from "node:util"
import { Cause, Effect, Fiber } from "effect"
import { runPrimary } from "./primary.ts"
import { DEFAULT_MAX_LINE } from "./protocol.ts"
import { runWorker } from "./worker.ts"

const usage = `usage: [--port 0] [--http-port 0] [--workers N] [--max-line BYTES]
  --port       the chat's TCP port on 127.0.0.1 (default 0: a free one, printed)
  --http-port  the HTTP side's port on 127.0.0.1: GET /stats, GET /health (default 0)
  --workers    worker processes sharing the chat port (default: CPU count, at most 4)
  --max-line   longest accepted line in bytes (default ${DEFAULT_MAX_LINE})`

class UsageError extends Error {}

if (cluster.isWorker) {
  const env = process.env
  runWorker({
    port: Number(env.WEFT_CHAT_PORT),
    maxLine: Number(env.WEFT_CHAT_MAX_LINE),
    relayPort: Number(env.WEFT_CHAT_RELAY_PORT),
    token: env.WEFT_CHAT_RELAY_TOKEN ?? ""
  })
} else {
  const options = (() => {
    try {
      return parseArgs({
        args: process.argv.slice(2),
        options: {
          port: { type: "string" },
          "http-port": { type: "string" },
          workers: { type: "string" },
          "max-line": { type: "string" }
        },
        strict: true,
        allowPositionals: false
      }).values
    } catch (error) {
      console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
      process.exit(2)
    }
  })()

  const int = (name: keyof typeof options, fallback: number, min: number, max: number): number => {
    const raw = options[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    }
    return value
  }

  const program = Effect.gen(function*() {
    const workers = int("workers", Math.min(4, Math.max(1, os.availableParallelism())), 1, 64)
    const { port, httpPort } = yield* runPrimary({
      port: int("port", 0, 0, 65535),
      httpPort: int("http-port", 0, 0, 65535),
      workers,
      maxLine: int("max-line", DEFAULT_MAX_LINE, 16, 1024 * 1024),
      log: (line) => console.log(line)
    })
    console.log(`chat: tcp 127.0.0.1:${port}, ${workers} workers (try: nc 127.0.0.1 ${port})`)
    console.log(`http: http://127.0.0.1:${httpPort} (GET /stats, GET /health)`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

  const fiber = Effect.runFork(program)
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    Effect.runFork(Fiber.interrupt(fiber))
  }
  // \`on\`, not \`once\`: on Deno, removing the last listener restores the default action mid-shutdown.
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
  Effect.runPromise(Fiber.await(fiber)).then((exit) => {
    if (exit._tag === "Success") process.exit(0)
    if (exit.cause.reasons.every((r) => r._tag === "Interrupt")) {
      console.log("stopped")
      process.exit(0)
    }
    const error = Cause.squash(exit.cause)
    if (error instanceof UsageError) console.error(`${error.message}\n${usage}`)
    else console.error(error instanceof Error ? error.message : String(error))
    process.exit(error instanceof UsageError ? 2 : 1)
  })
}
