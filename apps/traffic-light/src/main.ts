/**
 * The traffic light CLI. Run: `npm start -w @weft/traffic-light -- --scope thread`
 * (or `node src/main.ts`, `bun src/main.ts`, `deno run -A src/main.ts`).
 *
 *   traffic-light [--scope ...] [--cars N] [--green D] [--red D] [--duration D]   one run, printed
 *   traffic-light serve [--host 127.0.0.1] [--public-host NAME] [--port 0]          the live page
 *   traffic-light cars --cluster URL [--count N] [--machine NAME]                   cars of this machine join a cluster run
 *
 * Exit codes: 0 done (or stopped with Ctrl-C / SIGTERM), 1 the simulation or
 * the server failed (or the cars' machine lost the cluster), 2 bad flags.
 */
import { Effect } from "effect"
import { Host, Main, Serve } from "@weft/app"
import { parse, parseCars, parseServe, UsageError, usage } from "./cli.ts"
import { joinCars } from "./cluster.ts"
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
        const runs = yield* Runs.makeWith(options.cluster)
        const guard = { host: options.host, publicHost: options.publicHost }
        const server = yield* Serve.serve(makeApp(runs, guard, { scope: options.scope, cluster: options.cluster !== undefined }), {
          port: options.port,
          hostname: options.host
        })
        // Where users reach it: a wildcard bind is named by this machine's host name, or --public-host.
        const url = Host.url(Host.shown(options.host, options.publicHost), server.port)
        console.log(`traffic light: serving ${url} (GET / for the live page, GET /health)`)
        return yield* Effect.never
      })),
      { name: "traffic-light" }
    )
  }
} else if (argv[0] === "cars") {
  const options = parseCars(argv.slice(1), process.env)
  if (options === "help") console.log(usage)
  else if (options instanceof UsageError) fail(options)
  else {
    // Cut off from the cluster, the cars stop (none can pass on a light it cannot see) and it exits 1.
    Main.runMain(
      Effect.map(joinCars(options.cluster, options.count, (text) => console.log(text)), (outcome) =>
        console.log(`${options.cluster.machine}: left run ${outcome.run}: ${outcome.passed} of ${outcome.count} cars passed (${outcome.reason})`)),
      { name: "traffic-light cars" }
    )
  }
} else {
  const config = parse(argv)
  if (config === "help") console.log(usage)
  else if (config instanceof UsageError) fail(config)
  else if (config.scope === "cluster" && config.cluster === undefined) fail(new UsageError({ message: "--scope cluster: needs --cluster URL" }))
  else {
    const s = (ms: number) => `${ms / 1000}s`
    console.log(
      `traffic light at ${config.scope} scope (${primitive[config.scope]}): ${config.cars} cars, ` +
        `green ${s(config.green)}, red ${s(config.red)}, for ${s(config.duration)}`
    )
    // Ctrl-C interrupts the run: the pool's workers or processes stop, the manager's socket is removed.
    let cars = config.cars
    const cluster = config.cluster && {
      ...config.cluster,
      onJoin: (join: { machine: string; first: number; count: number }) => {
        cars += join.count
        console.log(`          ${join.count} car(s) of ${join.machine} join: car ${join.first} to ${join.first + join.count - 1}`)
      }
    }
    Main.runMain(
      Effect.map(
        run(config, (entry) => console.log(line(entry)), undefined, cluster),
        (entries) => console.log(summary(entries, { cars, duration: config.duration }))
      ),
      { name: "traffic-light" }
    )
  }
}
