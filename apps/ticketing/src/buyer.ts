/**
 * One buyer process of the rush (started by `rush.ts`, one per buyer):
 *
 *   buyer.ts <ticket file> <buyer number> <lock|no-lock> <think ms> <hold ms>
 *
 * Prints `{"type":"ready"}` and waits for the line `go` on stdin (so every
 * buyer starts at the same moment), thinks for a random 0..think ms, searches
 * (without the lock), then buys (under the lock, unless `no-lock`); the buy
 * holds its read for a random 0..hold ms before writing (the seed's
 * "database round trip"). Each step is one JSON line on stdout:
 * `search`, `holding`, then `result` or `error`. A closed stdin (the rush
 * went away) ends the buyer.
 */
import * as readline from "node:readline"
import { Effect } from "effect"
import * as Store from "./store.ts"

const [file, buyer, mode, think, hold] = process.argv.slice(2)

const say = (message: Record<string, unknown>) => Effect.sync(() => void process.stdout.write(JSON.stringify(message) + "\n"))

const randomMillis = (max: string | undefined) => Effect.suspend(() => Effect.sleep(Math.floor(Math.random() * (Number(max) || 0))))

const go = Effect.callback<void>((resume) => {
  const rl = readline.createInterface({ input: process.stdin })
  let started = false
  rl.on("line", (line) => {
    if (line.trim() === "go" && !started) {
      started = true
      resume(Effect.void)
    }
  })
  // The rush is gone (or never says go): nothing to wait for.
  rl.on("close", () => {
    if (!started) process.exit(2)
  })
})

const program = Effect.gen(function*() {
  const store = yield* Store.make(file!, {
    lock: mode !== "no-lock",
    hold: randomMillis(hold),
    onHold: (count) => say({ type: "holding", buyer: Number(buyer), count })
  })
  yield* say({ type: "ready", buyer: Number(buyer) })
  yield* go
  yield* randomMillis(think)
  const seen = yield* store.search
  yield* say({ type: "search", buyer: Number(buyer), seen })
  const purchase = yield* store.buy
  yield* say({ type: "result", buyer: Number(buyer), seen, ...purchase })
}).pipe(
  Effect.catchTag("TicketFileError", (error) => say({ type: "error", buyer: Number(buyer), message: error.message }))
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`buyer ${buyer}: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
