/**
 * weft ticketing — the 12306 ticket rush.
 *
 *   node src/main.ts rush  [--tickets 3] [--buyers 10] [--no-lock] [--think 20] [--hold 20] [--file PATH]
 *   node src/main.ts serve [--port 0] [--file tickets.json] [--tickets N] [--hold 0]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Cause, Effect, Fiber } from "effect"
import * as Http from "./http.ts"
import { rush } from "./rush.ts"
import * as Store from "./store.ts"

const usage = `usage:
  rush  [--tickets 3] [--buyers 10] [--no-lock] [--think MS] [--hold MS] [--file PATH]
        forks one process per buyer; all search, then buy (under the FileLock unless --no-lock)
  serve [--port 0] [--file tickets.json] [--tickets N] [--hold MS]
        HTTP API on 127.0.0.1: GET /tickets, POST /buy, POST /reset {"count": N}
        (--tickets N writes the file first; a missing file starts with 3 tickets)`

class UsageError extends Error {}

const argv = process.argv.slice(2)
const command = argv[0]

const options = (() => {
  try {
    return parseArgs({
      args: argv.slice(1),
      options: {
        tickets: { type: "string" },
        buyers: { type: "string" },
        "no-lock": { type: "boolean" },
        think: { type: "string" },
        hold: { type: "string" },
        file: { type: "string" },
        port: { type: "string" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    process.exit(2)
  }
})()

const int = (name: string, fallback: number | undefined, min = 0): number | undefined => {
  const raw = (options as Record<string, unknown>)[name]
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`)
  return value
}

const rushMode = Effect.gen(function*() {
  const tickets = int("tickets", 3)!
  const buyers = int("buyers", 10, 1)!
  let file = options.file
  let dir: string | undefined
  if (file === undefined) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-rush-"))
    file = path.join(dir, "tickets.json")
  }
  const report = yield* rush({
    file: path.resolve(file),
    tickets,
    buyers,
    lock: options["no-lock"] !== true,
    think: int("think", 20)!,
    hold: int("hold", 20)!,
    onEvent: (line) => console.log(line)
  }).pipe(Effect.ensuring(Effect.sync(() => dir !== undefined && fs.rmSync(dir, { recursive: true, force: true }))))
  // Overselling is the point of --no-lock; with the lock it would be a bug.
  return report.lock && report.oversold ? 1 : 0
})

const serveMode = Effect.gen(function*() {
  const file = path.resolve(options.file ?? "tickets.json")
  const holdMs = int("hold", 0)!
  const store = yield* Store.make(file, holdMs > 0 ? { hold: Effect.suspend(() => Effect.sleep(Math.floor(Math.random() * holdMs))) } : {})
  const tickets = int("tickets", undefined)
  if (tickets !== undefined) yield* store.reset(tickets)
  else if (!fs.existsSync(file)) yield* store.reset(3)
  const count = yield* store.search
  const served = yield* Http.serve(store, { port: int("port", 0)! })
  console.log(`serving ${served.url} (ticket file ${file}, ${count} left)`)
  console.log(`  curl ${served.url}/tickets`)
  console.log(`  curl -X POST ${served.url}/buy`)
  console.log(`  curl -X POST ${served.url}/reset -H 'content-type: application/json' -d '{"count": 3}'`)
  return yield* Effect.never
}).pipe(Effect.scoped)

const program: Effect.Effect<number, unknown> = Effect.suspend(() => {
  switch (command) {
    case "rush":
      return rushMode
    case "serve":
      return serveMode
    default:
      return Effect.fail(new UsageError(command === undefined ? "no mode given" : `unknown mode ${JSON.stringify(command)}`))
  }
})

const fiber = Effect.runFork(program)
const stop = () => void Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
Effect.runPromise(Fiber.await(fiber)).then((exit) => {
  if (exit._tag === "Success") process.exit(exit.value)
  if (exit.cause.reasons.every((r) => r._tag === "Interrupt")) process.exit(0)
  const error = Cause.squash(exit.cause)
  if (error instanceof UsageError) console.error(`${error.message}\n${usage}`)
  else console.error(error instanceof Error ? error.message : String(error))
  process.exit(error instanceof UsageError ? 2 : 1)
})
