/**
 * The traffic light CLI. Run: `npm start -w @weft/traffic-light -- --scope thread`
 * (or `node src/main.ts`, `bun src/main.ts`, `deno run -A src/main.ts`).
 *
 *   traffic-light [--scope ...] [--cars N] [--green D] [--red D] [--duration D]   one run, printed
 *   traffic-light serve [--host 127.0.0.1] [--public-host NAME] [--port 0]          the live page
 *
 * Exit codes: 0 done (or stopped with Ctrl-C / SIGTERM), 1 the simulation or
 * the server failed, 2 bad flags.
 */
import { Effect } from "effect"
import { Host, Main, Serve } from "@weft/app"
import { parse, parseServe, UsageError, usage } from "./cli.ts"
import * as Runs from "./runs.ts"
import { primitive, run } from "./scopes.ts"
import { makeApp } from "./server.ts"
import { line, summary } from "./simulation.ts"

const argv = process.argv.slice(2)

const fail = (error: UsageError) => {
  console.error(`traffic-light: ${error.message}\n(--help shows every flag)`)
  process.exitCode = 2
}

if (argv[0] === "serve") {
  const options = parseServe(argv.slice(1))
  if (options === "help") console.log(usage)
  else if (options instanceof UsageError) fail(options)
  else {
    Main.runMain(
      Effect.scoped(Effect.gen(function*() {
        const runs = yield* Runs.make
        const server = yield* Serve.serve(makeApp(runs, options), { port: options.port, hostname: options.host })
        // Where users reach it: a wildcard bind is named by this machine's host name, or --public-host.
        const url = Host.url(Host.shown(options.host, options.publicHost), server.port)
        console.log(`traffic light: serving ${url} (GET / for the live page, GET /health)`)
        return yield* Effect.never
      })),
      { name: "traffic-light" }
    )
  }
} else {
  const config = parse(argv)
  if (config === "help") console.log(usage)
  else if (config instanceof UsageError) fail(config)
  else {
    const s = (ms: number) => `${ms / 1000}s`
    console.log(
      `traffic light at ${config.scope} scope (${primitive[config.scope]}): ${config.cars} cars, ` +
        `green ${s(config.green)}, red ${s(config.red)}, for ${s(config.duration)}`
    )
    // Ctrl-C interrupts the run: the pool's workers or processes stop, the manager's socket is removed.
    Main.runMain(
      Effect.map(run(config, (entry) => console.log(line(entry))), (entries) => console.log(summary(entries, config))),
      { name: "traffic-light" }
    )
  }
}
