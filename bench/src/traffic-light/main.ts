/**
 * The traffic light at cluster scope: how long from the light turning green
 * to a car on another machine passing. The machine is a network namespace of
 * the test-bed (`@weft/testkit/testbed`: root and `ip netns`), reaching a
 * throwaway PostgreSQL on the test-bed's back link over TCP; the light runs in
 * the root namespace on the server's Unix socket, with cars of its own (the
 * anchor: a car on the light's machine, the same cluster event).
 *
 * Each round is one run of `traffic-light --scope cluster` (CLI) with
 * `traffic-light cars --cluster URL` joined from the namespace. Every car that
 * arrived on red gives one figure: its pass time minus the time of the green
 * it passed on (the green is recorded just before the event is set, so the
 * figure holds the `set` statement, the NOTIFY and the car's wake-up). Times
 * are each process's clock against the run's start; the namespace shares the
 * host's clock.
 *
 *   node_modules/.bin/node bench/src/traffic-light/main.ts      (as root)
 */
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { argv, start } from "@weft/testkit"
import { database, testbed, unavailable } from "@weft/testkit/testbed"
import { runtime } from "../harness.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CARS = Number(process.env.CARS ?? 40)
const LOCAL = Number(process.env.LOCAL ?? 10)
const DURATION = Number(process.env.DURATION ?? 40)
const main = fileURLToPath(new URL("../../../apps/traffic-light/src/main.ts", import.meta.url))

interface Line { readonly t: number; readonly kind: string; readonly car?: number; readonly machine?: string }

/** The light's timeline as the CLI prints it. */
const parse = (out: string): Array<Line> =>
  out.split("\n").flatMap((text): Array<Line> => {
    const light = /^\s*(\d+\.\d+)s  light turns (GREEN|RED)$/.exec(text)
    if (light) return [{ t: Number(light[1]) * 1000, kind: light[2]!.toLowerCase() }]
    const pass = /^\s*\d+\.\d+s  car (\d+) \((\S+)\) passes at (\d+\.\d+)s \(waited/.exec(text)
    if (pass) return [{ t: Number(pass[3]) * 1000, kind: "pass", car: Number(pass[1]), machine: pass[2]! }]
    return []
  })

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

const bench = Effect.scoped(Effect.gen(function*() {
  const bed = yield* testbed(1)
  const { local, remote } = yield* database(bed)
  const figures: Record<string, Array<number>> = { remote: [], local: [] }
  for (let round = 0; round < ROUNDS; round++) {
    const args = ["cars", "--cluster", remote, "--count", String(CARS), "--machine", "netns"]
    const cars = start(main, args, { command: ["ip", "netns", "exec", bed.machines[0]!.ns, ...argv(main, args)] })
    yield* Effect.promise(() => cars.line("waiting to join a run", 60_000))
    const light = start(main, ["--cluster", local, "--machine", "root", "--cars", String(LOCAL), "--green", "300ms", "--red", "700ms", "--duration", `${DURATION}s`])
    const [l, c] = yield* Effect.promise(() => Promise.all([light.closed, cars.closed]))
    if (l.code !== 0 || c.code !== 0) return yield* Effect.die(new Error(`round ${round}: ${light.report()}\n${cars.report()}`))
    const entries = parse(light.stdout())
    const greens = entries.filter((e) => e.kind === "green").map((e) => e.t)
    for (const e of entries) {
      if (e.kind !== "pass") continue
      const green = greens.filter((g) => g <= e.t).at(-1)
      // Only cars that waited: a car that came on green passed without the light's help.
      if (green === undefined || !/waited/.test(light.stdout().split("\n").find((x) => x.includes(`car ${e.car} (`) && x.includes("passes"))!)) continue
      figures[e.machine === "root" ? "local" : "remote"]!.push(e.t - green)
    }
  }
  const row = (label: string, xs: ReadonlyArray<number>) =>
    `| ${label} | ${xs.length} | ${quantile(xs, 0.5).toFixed(0)} | ${quantile(xs, 0.99).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`
  console.log(`traffic light at cluster scope on ${runtime()}: ${ROUNDS} runs of ${DURATION} s (green 300 ms, red 700 ms), ${CARS} cars in a namespace + ${LOCAL} on the light's machine\n`)
  console.log("| green -> car passes (ms) | cars that waited | p50 | p99 | max |\n| --- | --: | --: | --: | --: |")
  console.log(row("car on another machine (namespace, TCP)", figures.remote!))
  console.log(row("anchor: car on the light's machine (Unix socket)", figures.local!))
}))

const why = unavailable()
if (why !== undefined) console.log(`(traffic-light bench skipped: ${why})`)
else await Effect.runPromise(bench)
