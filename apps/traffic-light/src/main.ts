/**
 * The traffic light CLI. Run: `npm start -w @weft/traffic-light -- --scope thread`
 * (or `node src/main.ts`, `bun src/main.ts`, `deno run -A src/main.ts`).
 * Exit codes: 0 done, 1 the simulation failed, 2 bad flags.
 */
import { Cause, Effect, Exit, Fiber } from "effect"
import { parse, UsageError, usage } from "./cli.ts"
import { primitive, run } from "./scopes.ts"
import { line, summary } from "./simulation.ts"

const config = parse(process.argv.slice(2))
if (config === "help") {
  console.log(usage)
} else if (config instanceof UsageError) {
  console.error(`traffic-light: ${config.message}\n(--help shows every flag)`)
  process.exitCode = 2
} else {
  const s = (ms: number) => `${ms / 1000}s`
  console.log(
    `traffic light at ${config.scope} scope (${primitive[config.scope]}): ${config.cars} cars, ` +
      `green ${s(config.green)}, red ${s(config.red)}, for ${s(config.duration)}`
  )
  const fiber = Effect.runFork(
    Effect.map(run(config, (entry) => console.log(line(entry))), (entries) => console.log(summary(entries, config)))
  )
  // Ctrl-C: interrupt, so workers and child processes are stopped and the manager's socket removed.
  const onSignal = () => void Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const exit = await Effect.runPromise(Fiber.await(fiber))
  process.off("SIGINT", onSignal)
  process.off("SIGTERM", onSignal)
  if (Exit.isFailure(exit)) {
    const error = Exit.findErrorOption(exit)
    if (error._tag === "Some") console.error(`traffic-light: ${error.value.message}`)
    else if (Exit.hasInterrupts(exit)) console.error("traffic-light: interrupted")
    else console.error(`traffic-light: ${Cause.pretty(exit.cause)}`)
    process.exitCode = error._tag === "None" && Exit.hasInterrupts(exit) ? 130 : 1
  }
}
