/**
 * Chat bench across machines: the chat on two instances (`--cluster`, one
 * worker each) on two machines of the network-namespace test-bed, sharing a
 * throwaway PostgreSQL on the test-bed's back link, against the one-machine
 * chat with the same total workers (one instance, `--workers 2`, on machine 1),
 * in one run, rounds interleaved. The load is scenario s2 of the chat bench:
 * 1,000 clients (spread over both instances, from the root namespace to their
 * front addresses), 10 senders x 20 msg/s, one room, 10 s; the same client
 * processes (clients.ts). Reported: deliveries within the send window per
 * second and their ratio, p50/p99 delivery latency, losses after the drain,
 * lines out of a sender's order.
 *
 *   node bench/src/chat/cluster.ts [--rounds 3] [--duration 10] [--clients 1000] [--senders 10] [--rate 20]
 *
 * Needs root and `ip netns` (the test-bed) and Debian's postgresql; says why and exits 2 without.
 * Every address is checked with the test-bed's `route` before use.
 */
import { fork, type ChildProcess } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { findBin } from "@weft/testkit/postgres"
import { unavailable, withPostgres } from "@weft/testkit/testbed"
import type { Command, Report, Stats } from "./clients.ts"
import * as Histogram from "./histogram.ts"
import { startServer, type Server } from "./proc.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "../../..")
const main = path.join(repo, "apps/chat-server/src/main.ts")

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "10" },
    clients: { type: "string", default: "1000" },
    senders: { type: "string", default: "10" },
    rate: { type: "string", default: "20" }
  },
  strict: true
})
const rounds = Number(flags.rounds)
const windowMs = Number(flags.duration) * 1000
const clientCount = Number(flags.clients)
const senders = Number(flags.senders)
const rate = Number(flags.rate)

const why = unavailable() ?? (findBin("initdb") === undefined ? "initdb not found (install Debian's postgresql)" : undefined)
if (why !== undefined) {
  console.error(`chat cluster bench: cannot run here: ${why}`)
  process.exit(2)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

interface ClientProc {
  readonly child: ChildProcess
  ask<A>(command: Command, answer: string): Promise<A>
}
const spawnClients = (n: number): Array<ClientProc> =>
  Array.from({ length: n }, () => {
    const child = fork(path.join(here, "clients.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    const waiting = new Map<string, Array<(message: any) => void>>()
    child.on("error", () => {})
    child.on("message", (message: { t: string }) => waiting.get(message.t)?.shift()?.(message))
    return {
      child,
      ask: <A>(command: Command, answer: string) =>
        Promise.race([
          new Promise<A>((resolve) => {
            waiting.set(answer, [...(waiting.get(answer) ?? []), resolve])
            child.send(command)
          }),
          sleep(90_000).then(() => Promise.reject(new Error(`client process: no "${answer}" within 90 s`)))
        ])
    }
  })

interface Result {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly lost: number
  readonly outOfOrder: number
  readonly connected: number
}

/** One run of the load against `targets` (host, port of each instance). */
const measure = async (targets: ReadonlyArray<readonly [string, number]>): Promise<Result> => {
  const procs = spawnClients(2)
  try {
    const senderAt = new Map<number, number>()
    for (let k = 0; k < senders; k++) senderAt.set(Math.floor((k * clientCount) / senders), k)
    const connected = await Promise.all(procs.map((p, j) => {
      const ids = Array.from({ length: clientCount }, (_, i) => i).filter((i) => i % procs.length === j)
      return p.ask<{ ok: number }>({ t: "connect", port: 0, targets, clients: ids, senderOf: ids.map((i) => senderAt.get(i) ?? -1), senders, concurrency: 32 }, "connected")
    }))
    const ok = connected.reduce((s, c) => s + c.ok, 0)
    // Settle: nothing read for 1 s (welcomes, join notices), at most 20 s.
    let last = -1
    let quietSince = Date.now()
    for (const start = Date.now(); Date.now() - start < 20_000 && Date.now() - quietSince < 1_000; await sleep(200)) {
      const bytes = (await Promise.all(procs.map((p) => p.ask<Stats>({ t: "stats" }, "stats")))).reduce((s, x) => s + x.bytes, 0)
      if (bytes !== last) [last, quietSince] = [bytes, Date.now()]
    }
    const startUs = nowUs() + 200_000
    const endUs = startUs + windowMs * 1000
    const count = (rate * windowMs) / 1000
    const sent = (await Promise.all(procs.map((p) => p.ask<{ sent: number }>({ t: "send", run: 1, rate, count, startUs, endUs }, "sent")))).reduce((s, x) => s + x.sent, 0)
    const expected = sent * (ok - 1)
    for (const start = Date.now(); Date.now() - start < 15_000; await sleep(100)) {
      const stats = await Promise.all(procs.map((p) => p.ask<Stats>({ t: "stats" }, "stats")))
      if (stats.reduce((s, x) => s + x.received, 0) >= expected) break
    }
    const reports = await Promise.all(procs.map((p) => p.ask<Report>({ t: "report" }, "report")))
    const histogram = Histogram.make()
    for (const r of reports) Histogram.merge(histogram, r.histogram)
    const received = reports.reduce((s, r) => s + r.received, 0)
    return {
      perSecond: reports.reduce((s, r) => s + r.inWindow, 0) / (windowMs / 1000),
      p50: Histogram.percentileMs(histogram, 50),
      p99: Histogram.percentileMs(histogram, 99),
      lost: expected - received,
      outOfOrder: reports.reduce((s, r) => s + r.outOfOrder, 0),
      connected: ok
    }
  } finally {
    for (const p of procs) p.child.kill("SIGKILL")
  }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const program = Effect.scoped(Effect.gen(function*() {
  const { bed, url: db } = yield* withPostgres(2)
  const node = process.execPath
  const launch = (i: number, args: ReadonlyArray<string>): Promise<Server> => {
    const m = bed.machines[i]!
    return startServer(`chat on ${m.ns}`, "ip", [
      "netns", "exec", m.ns, "/bin/sh", "-c", `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, "sh",
      node, main, "--host", m.front, "--port", "0", "--irc-port", "0", "--http-port", "0", ...args
    ], { cwd: repo, portPattern: /chat: tcp [\d.]+:(\d+)/ })
  }
  const results: Record<"one" | "two", Array<Result>> = { one: [], two: [] }
  for (let round = 1; round <= rounds; round++) {
    for (const which of ["one", "two"] as const) {
      const servers: Array<Server> = []
      try {
        if (which === "one") servers.push(yield* Effect.promise(() => launch(0, ["--workers", "2"])))
        else {
          // The log grows over the rounds: each joining instance replays it first (a few thousand entries).
          servers.push(...yield* Effect.promise(() => Promise.all([launch(0, ["--workers", "1", "--cluster", db]), launch(1, ["--workers", "1", "--cluster", db])])))
        }
        yield* Effect.promise(() => sleep(1_500))
        const targets = servers.map((s, i) => [bed.machines[i]!.front, s.port] as const)
        const r = yield* Effect.promise(() => measure(targets))
        results[which].push(r)
        console.log(`round ${round}, ${which === "one" ? "one machine, 2 workers" : "two machines, 1 worker each"}: ${Math.round(r.perSecond)} deliveries/s in the window, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, lost ${r.lost}, out of order ${r.outOfOrder}, ${r.connected} connected`)
      } finally {
        yield* Effect.promise(() => Promise.all(servers.map((s) => s.stop())))
      }
    }
  }
  const one = median(results.one.map((r) => r.perSecond))
  const two = median(results.two.map((r) => r.perSecond))
  console.log("")
  console.log(`| chat, ${clientCount} clients, ${senders} x ${rate} msg/s, one room | deliveries/s in the window (median) | vs one machine | p50 | p99 | lost | out of order |`)
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (const [label, rs, rate] of [["one machine, `--workers 2`", results.one, one], ["two machines, `--cluster`, `--workers 1` each", results.two, two]] as const) {
    console.log(`| ${label} | ${Math.round(rate)} | ${(rate / one).toFixed(2)}x | ${median(rs.map((r) => r.p50)).toFixed(1)} ms | ${median(rs.map((r) => r.p99)).toFixed(1)} ms | ${Math.max(...rs.map((r) => r.lost))} | ${Math.max(...rs.map((r) => r.outOfOrder))} |`)
  }
}))

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
