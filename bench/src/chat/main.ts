/**
 * Chat bench: apps/chat-server against two anchors written here, in one run,
 * over plain TCP on 127.0.0.1 — (a) a single-process `node:net` broadcast chat
 * and (b) a 2-worker `node:cluster` chat relaying through the primary over
 * IPC, both doing the bare minimum (src/chat/anchor-*.mjs).
 *
 * Each scenario starts each server fresh, as a child process, and drives it
 * from separate client processes (src/chat/clients.ts, 2 by default) so the
 * load generator is not the server's process. Scenarios:
 *
 *   s1    100 clients, 10 senders x 100 msg/s, 10 s
 *   s2    1,000 clients, 10 senders x 20 msg/s, 10 s
 *   idle  10,000 connections, then one broadcast
 *
 * A delivery is a payload line reaching a client other than its sender. Measured:
 * deliveries within the send window (per second) and the share still queued at
 * its end, deliveries lost after a bounded drain, latency p50/p99 (send time is
 * in the payload), the server's RSS (VmRSS summed over its process tree) at
 * rest, at its peak, and per idle connection, and the CPU of the server and of
 * the generator during the window.
 *
 *   node bench/src/chat/main.ts [--quick] [--scenario s1,s2,idle] [--server net,cluster,weft]
 *        [--client-procs 2] [--weft-dir apps/chat-server] [--weft-runtime node|bun|deno]
 *   node bench/src/chat/main.ts --scenario irc1,irc2 --server weft,ergo --ergo DIR
 *
 * The IRC scenarios (irc1: 1,000 clients in #bench, 10 senders x 20 msg/s; irc2: 20 x 100 msg/s)
 * speak IRC to the weft chat's --irc-port and to Ergo (built from its source in DIR, which holds
 * the `ergo` binary and its `default.yaml`; run with fakelag off, loopback only).
 *
 * Linux only (reads /proc). Every phase is bounded in time; servers and client
 * processes are stopped (SIGTERM, then SIGKILL to the whole tree) at the end.
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import type { Command, Report, Stats } from "./clients.ts"
import * as Histogram from "./histogram.ts"
import { startServer, treeCpu, treeRss, type Server } from "./proc.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "../../..")

const usage = `usage: node bench/src/chat/main.ts [--quick] [--scenario s1,s2,idle] [--server net,cluster,weft]
  [--client-procs N] [--weft-dir DIR] [--weft-runtime node|bun|deno] [--duration SECONDS] [--connections N]
  [--rounds N] [--base-dir DIR (with --server ...,base: a second copy of the server, e.g. an older commit)]
  [--scenario irc1,irc2 --server weft,ergo --ergo DIR (Ergo built from its source in DIR)]`

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        quick: { type: "boolean", default: false },
        scenario: { type: "string", default: "s1,s2,idle" },
        server: { type: "string", default: "net,cluster,weft" },
        "client-procs": { type: "string", default: "2" },
        "weft-dir": { type: "string", default: path.join(repo, "apps/chat-server") },
        "base-dir": { type: "string" },
        ergo: { type: "string" },
        "weft-runtime": { type: "string", default: "node" },
        duration: { type: "string" },
        connections: { type: "string" },
        rounds: { type: "string" },
        help: { type: "boolean", default: false }
      },
      strict: true,
      allowPositionals: false
    })
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    process.exit(2)
  }
})()
if (flags.help) {
  console.log(usage)
  process.exit(0)
}

const list = (raw: string, allowed: ReadonlyArray<string>, what: string): Array<string> => {
  const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const bad = items.filter((s) => !allowed.includes(s))
  if (bad.length > 0 || items.length === 0) {
    console.error(`--${what} takes a comma-separated list of ${allowed.join(", ")}; got ${JSON.stringify(raw)}\n${usage}`)
    process.exit(2)
  }
  return items
}
const quick = flags.quick
const scenarios = list(flags.scenario, ["s1", "s2", "idle", "irc1", "irc2"], "scenario")
const servers = list(flags.server, ["net", "cluster", "weft", "base", "ergo"], "server")
const ergoDir = flags.ergo === undefined ? undefined : path.resolve(flags.ergo)
if (servers.includes("ergo") !== (ergoDir !== undefined)) {
  console.error(`--server ergo and --ergo DIR go together\n${usage}`)
  process.exit(2)
}
if (scenarios.some((n) => n.startsWith("irc")) && scenarios.some((n) => !n.startsWith("irc"))) {
  console.error(`the IRC scenarios (irc1, irc2) run apart from the others\n${usage}`)
  process.exit(2)
}
const clientProcs = Math.max(1, Number(flags["client-procs"]))
const weftDir = path.resolve(flags["weft-dir"])
/** `--server ...,base`: another copy of the server (e.g. an older commit) measured in the same run. */
const baseDir = flags["base-dir"] === undefined ? undefined : path.resolve(flags["base-dir"])
if (servers.includes("base") !== (baseDir !== undefined)) {
  console.error(`--server base and --base-dir DIR go together\n${usage}`)
  process.exit(2)
}
const weftRuntime = list(flags["weft-runtime"], ["node", "bun", "deno"], "weft-runtime")[0]!
const durationOverride = flags.duration === undefined ? undefined : Number(flags.duration)
const connectionsOverride = flags.connections === undefined ? undefined : Number(flags.connections)
/** Rounds per scenario (servers interleaved within each round); the table shows the median of each figure. */
const rounds = flags.rounds !== undefined ? Math.max(1, Number(flags.rounds)) : quick ? 1 : 3

interface Scenario {
  readonly name: string
  readonly clients: number
  readonly senders: number
  readonly rate: number
  readonly count: number
  readonly windowMs: number
  readonly drainMs: number
  /** Longest wait for the server to go quiet after the clients connect (join notices and the like). */
  readonly settleMs: number
}

const secs = (full: number, short: number) => (durationOverride ?? (quick ? short : full)) * 1000
const scenarioOf = (name: string): Scenario => {
  switch (name) {
    case "s1": {
      const windowMs = secs(10, 3)
      return { name, clients: 100, senders: 10, rate: 100, count: (100 * windowMs) / 1000, windowMs, drainMs: quick ? 5_000 : 15_000, settleMs: 5_000 }
    }
    case "s2": {
      const windowMs = secs(10, 3)
      return { name, clients: 1_000, senders: 10, rate: 20, count: (20 * windowMs) / 1000, windowMs, drainMs: quick ? 5_000 : 15_000, settleMs: 5_000 }
    }
    case "irc1":
    case "irc2": {
      // 1,000 joins: a server that tells every member of each one sends half a million JOIN lines first.
      const windowMs = secs(10, 3)
      const [senders, rate] = name === "irc1" ? [10, 20] : [20, 100]
      return { name, clients: 1_000, senders, rate, count: (rate * windowMs) / 1000, windowMs, drainMs: quick ? 5_000 : 15_000, settleMs: 30_000 }
    }
    default:
      return {
        name,
        clients: connectionsOverride ?? (quick ? 2_000 : 10_000),
        senders: 1,
        rate: 1,
        count: 1,
        windowMs: 200,
        drainMs: quick ? 4_000 : 5_000,
        settleMs: quick ? 5_000 : 15_000
      }
  }
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// Limits and the servers

/** The soft and hard limits on open files, from /proc/self/limits. */
const fileLimits = (): { soft: number; hard: number } => {
  const line = fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))
  const [soft, hard] = (line ?? "").slice("Max open files".length).trim().split(/\s+/)
  const n = (s: string | undefined) => (s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s))
  return { soft: n(soft), hard: n(hard) }
}

const loadAverage = (): string => fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]!

/** Whether this copy of the server has an IRC listener (`--irc-port`, then given 0: a free port). */
const hasIrcFlag = (dir: string): boolean => {
  const help = spawnSync(runtimeCommand()[0]!, [...runtimeCommand().slice(1), path.join(dir, "src/main.ts"), "--help"], {
    cwd: dir,
    encoding: "utf8",
    timeout: 10_000,
    killSignal: "SIGKILL"
  })
  return `${help.stdout}${help.stderr}`.includes("--irc-port")
}
const ircFlag = servers.includes("weft") && hasIrcFlag(weftDir)
const baseIrcFlag = baseDir !== undefined && hasIrcFlag(baseDir)

function runtimeCommand(): Array<string> {
  const bin = path.join(repo, "node_modules/.bin", weftRuntime)
  const binary = fs.existsSync(bin) ? bin : weftRuntime === "node" ? process.execPath : weftRuntime
  return weftRuntime === "deno" ? [binary, "run", "-A"] : [binary]
}

const serverCommand = (name: string): { label: string; argv: Array<string>; cwd: string } => {
  switch (name) {
    case "net":
      return { label: "anchor: node:net, 1 process", argv: [process.execPath, path.join(here, "anchor-net.mjs")], cwd: repo }
    case "cluster":
      return { label: "anchor: node:cluster, 2 workers, IPC relay", argv: [process.execPath, path.join(here, "anchor-cluster.mjs"), "2"], cwd: repo }
    default: {
      const dir = name === "base" ? baseDir! : weftDir
      return {
        label: `${name === "base" ? "base: " : ""}weft chat-server, 2 workers${weftRuntime === "node" ? "" : ` (${weftRuntime})`}`,
        argv: [
          ...runtimeCommand(),
          path.join(dir, "src/main.ts"),
          "--port", "0", "--http-port", "0", "--workers", "2",
          ...((name === "base" ? baseIrcFlag : ircFlag) ? ["--irc-port", "0"] : [])
        ],
        cwd: dir
      }
    }
  }
}

/** Starts a server with its open-file limit raised to the hard limit (a shell `ulimit -n` before exec); `irc`: on its IRC port. */
const launch = (name: string, irc: boolean): Promise<Server> => {
  if (name === "ergo") return launchErgo()
  const { label, argv, cwd } = serverCommand(name)
  const portPattern = irc ? /irc: irc 127\.0\.0\.1:(\d+)/ : undefined
  return startServer(label, "/bin/sh", ["-c", `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, "sh", ...argv], { cwd, portPattern })
}

/** A free loopback port (asked of the kernel, then released for the server to take). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })

/**
 * Ergo from `--ergo DIR`, on its own default configuration with: one plaintext listener on
 * 127.0.0.1 (no TLS, no IPv6), fakelag off, the datastore in a fresh temporary directory.
 */
const launchErgo = async (): Promise<Server> => {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ergo-"))
  let conf = fs.readFileSync(path.join(ergoDir!, "default.yaml"), "utf8")
  const edits: Array<[RegExp | string, string]> = [
    ['"127.0.0.1:6667":', `"127.0.0.1:${port}":`],
    [/\n\s+"\[::1\]:6667":[^\n]*/, ""],
    [/\n {8}":6697":\n(?:(?: {12}[^\n]*|\s*)\n)*? {12}proxy: false/, ""],
    [/(\nfakelag:\n(?:[^\n]*\n)*? {4}enabled:) true/, "$1 false"],
    ["path: ircd.db", `path: ${dir}/ircd.db`],
    ['lock-file: "ircd.lock"', `lock-file: "${dir}/ircd.lock"`]
  ]
  for (const [from, to] of edits) {
    const next = conf.replace(from, to)
    if (next === conf) throw new Error(`ergo's default.yaml changed: no ${String(from)} to edit`)
    conf = next
  }
  const file = path.join(dir, "ircd.yaml")
  fs.writeFileSync(file, conf)
  const server = await startServer("ergo 2.11.1, fakelag off", "/bin/sh", ["-c", `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, "sh", path.join(ergoDir!, "ergo"), "run", "--conf", file], {
    cwd: ergoDir,
    portPattern: /now listening on 127\.0\.0\.1:(\d+)/
  })
  return { ...server, stop: () => server.stop().finally(() => fs.rmSync(dir, { recursive: true, force: true })) }
}

// ---------------------------------------------------------------------------
// Client processes

interface ClientProc {
  readonly child: ChildProcess
  readonly ask: <A>(command: Command, answer: string) => Promise<A>
}

const spawnClients = (n: number): Array<ClientProc> =>
  Array.from({ length: n }, () => {
    const child = fork(path.join(here, "clients.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    const waiting = new Map<string, Array<(message: any) => void>>()
    child.on("error", () => {}) // a send on a closed channel: 'exit' says the rest
    child.on("message", (message: { t: string }) => {
      const queue = waiting.get(message.t)
      queue?.shift()?.(message)
    })
    const exited = new Promise<never>((_, reject) =>
      child.on("exit", (code, signal) => reject(new Error(`client process exited (${signal ?? `code ${code}`})`)))
    )
    exited.catch(() => {})
    return {
      child,
      ask: <A>(command: Command, answer: string) => {
        const reply = new Promise<A>((resolve) => {
          const queue = waiting.get(answer) ?? []
          queue.push(resolve)
          waiting.set(answer, queue)
        })
        if (child.connected) child.send(command)
        // Every phase is bounded inside the client process (connect: 60 s, send: the window); this is the backstop.
        let timer: ReturnType<typeof setTimeout> | undefined
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`client process: no "${answer}" within 90 s`)), 90_000)
        })
        return Promise.race([reply, exited, late]).finally(() => clearTimeout(timer))
      }
    }
  })

const closeClients = async (procs: ReadonlyArray<ClientProc>) => {
  await Promise.all(procs.map((p) =>
    p.child.exitCode !== null || p.child.signalCode !== null
      ? undefined
      : Promise.race([p.ask({ t: "close" }, "closed").catch(() => {}), sleep(5_000)])
  ))
  await sleep(100)
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
}

// ---------------------------------------------------------------------------
// One scenario against one server

interface Result {
  readonly server: string
  readonly label: string
  readonly processes: number
  readonly restRss: number
  /** Each process's share of restRss (the root first: the primary of a cluster). */
  readonly restRssEach: Array<number>
  readonly connectedRss: number
  readonly peakRss: number
  readonly connected: number
  readonly connectFailed: number
  readonly connectMs: number
  readonly settleMs: number
  readonly quiet: boolean
  readonly sent: number
  readonly expected: number
  readonly received: number
  /** Deliveries that never arrived (after the drain); over several rounds, the worst round. */
  readonly lost: number
  readonly inWindow: number
  readonly outOfOrder: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly drainMs: number
  readonly serverCpu: number
  readonly clientCpu: number
  readonly closed: number
  readonly closedTails: Array<string>
  readonly otherLines: Record<string, number>
  readonly maxSendQueue: number
  readonly lateSendMs: number
  /** The server's own counters after the drain (GET /metrics), when it has them. */
  readonly metrics: Record<string, number> | undefined
}

let runCounter = 0

/** Counters worth a note, summed over the server's workers, from its Prometheus `/metrics` (if it serves one). */
const scraped = ["chat_flood_delayed_lines_total", "chat_flood_disconnects_total", "chat_dropped_slow_consumers_total"]
const scrape = async (server: Server): Promise<Record<string, number> | undefined> => {
  const http = server.output.map((line) => /http: http:\/\/127\.0\.0\.1:(\d+)/.exec(line)).find((m) => m !== null)
  if (http == null) return undefined
  try {
    const response = await fetch(`http://127.0.0.1:${http[1]}/metrics`, { signal: AbortSignal.timeout(3_000) })
    if (!response.ok) return undefined
    const out: Record<string, number> = {}
    for (const line of (await response.text()).split("\n")) {
      const name = scraped.find((n) => line.startsWith(n))
      if (name !== undefined) out[name] = (out[name] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1))
    }
    return Object.keys(out).length > 0 ? out : undefined
  } catch {
    return undefined
  }
}

/** What to stop if the bench itself is interrupted (SIGINT/SIGTERM) mid-scenario. */
const running = new Set<() => Promise<void>>()
let stopping = false
const interrupted = async () => {
  stopping = true
  await Promise.all([...running].map((stop) => stop().catch(() => {})))
  process.exit(130)
}
process.on("SIGINT", interrupted)
process.on("SIGTERM", interrupted)

const measure = async (scenario: Scenario, name: string): Promise<Result> => {
  const irc = scenario.name.startsWith("irc")
  const server = await launch(name, irc)
  const procs: Array<ClientProc> = []
  let stopped: Promise<void> | undefined
  const cleanup = () =>
    (stopped ??= (async () => {
      await closeClients(procs)
      await server.stop()
    })())
  running.add(cleanup)
  try {
    await sleep(1_500) // start-up done, JIT and GC settled a little
    const rest = [treeRss(server.pid), (await sleep(250), treeRss(server.pid)), (await sleep(250), treeRss(server.pid))]
    const restSample = [...rest].sort((a, b) => a.bytes - b.bytes)[1]!
    const restRss = restSample.bytes
    const processes = rest[2]!.processes

    // Connect: client i goes to process i % procs; senders are spread evenly over the clients.
    const senderAt = new Map<number, number>()
    for (let k = 0; k < scenario.senders; k++) senderAt.set(Math.floor((k * scenario.clients) / scenario.senders), k)
    procs.push(...spawnClients(Math.min(clientProcs, scenario.clients)))
    const connectStart = performance.now()
    const connected = await Promise.all(procs.map((p, j) => {
      const ids = Array.from({ length: scenario.clients }, (_, i) => i).filter((i) => i % procs.length === j)
      return p.ask<{ ok: number; failed: number }>({
        t: "connect",
        port: server.port,
        clients: ids,
        senderOf: ids.map((i) => senderAt.get(i) ?? -1),
        senders: scenario.senders,
        concurrency: 32,
        irc
      }, "connected")
    }))
    const connectMs = performance.now() - connectStart
    const ok = connected.reduce((s, c) => s + c.ok, 0)
    const connectFailed = connected.reduce((s, c) => s + c.failed, 0)

    // Settle: wait until nothing has been read for 1 s (welcome text, join notices), bounded.
    const settleStart = performance.now()
    let lastBytes = -1
    let quietSince = performance.now()
    let quiet = false
    while (performance.now() - settleStart < scenario.settleMs) {
      const stats = await Promise.all(procs.map((p) => p.ask<Stats>({ t: "stats" }, "stats")))
      const bytes = stats.reduce((s, x) => s + x.bytes, 0)
      if (bytes !== lastBytes) {
        lastBytes = bytes
        quietSince = performance.now()
      } else if (performance.now() - quietSince >= 1_000) {
        quiet = true
        break
      }
      await sleep(200)
    }
    const settleMs = performance.now() - settleStart
    const connectedRss = treeRss(server.pid).bytes

    // Send window.
    const run = ++runCounter
    const startUs = nowUs() + 200_000
    const endUs = startUs + scenario.windowMs * 1000
    const cpuStart = treeCpu(server.pid)
    let peakRss = connectedRss
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, treeRss(server.pid).bytes)), 500)
    const sent = await Promise.all(procs.map((p) =>
      p.ask<{ sent: number }>({ t: "send", run, rate: scenario.rate, count: scenario.count, startUs, endUs }, "sent")
    ))
    const serverCpu = ((treeCpu(server.pid) - cpuStart) / ((nowUs() - startUs) / 1e6)) * 100
    const totalSent = sent.reduce((s, x) => s + x.sent, 0)
    const expected = totalSent * (ok - 1)

    // Drain: until everything arrived, bounded.
    const drainStart = performance.now()
    while (performance.now() - drainStart < scenario.drainMs) {
      const stats = await Promise.all(procs.map((p) => p.ask<Stats>({ t: "stats" }, "stats")))
      if (stats.reduce((s, x) => s + x.received, 0) >= expected) break
      await sleep(100)
    }
    const drainMs = performance.now() - drainStart
    clearInterval(sampler)
    peakRss = Math.max(peakRss, treeRss(server.pid).bytes)

    const reports = await Promise.all(procs.map((p) => p.ask<Report>({ t: "report" }, "report")))
    const metrics = await scrape(server)
    const histogram = Histogram.make()
    const otherLines: Record<string, number> = {}
    for (const r of reports) {
      Histogram.merge(histogram, r.histogram)
      for (const [k, v] of Object.entries(r.otherLines)) otherLines[k] = (otherLines[k] ?? 0) + v
    }
    const sum = (f: (r: Report) => number) => reports.reduce((s, r) => s + f(r), 0)
    return {
      server: name,
      label: server.name,
      processes,
      restRss,
      restRssEach: restSample.each,
      connectedRss,
      peakRss,
      connected: ok,
      connectFailed,
      connectMs,
      settleMs,
      quiet,
      sent: totalSent,
      expected,
      received: sum((r) => r.received),
      lost: Math.max(0, expected - sum((r) => r.received)),
      inWindow: sum((r) => r.inWindow),
      outOfOrder: sum((r) => r.outOfOrder),
      p50: Histogram.percentileMs(histogram, 50),
      p99: Histogram.percentileMs(histogram, 99),
      max: Histogram.percentileMs(histogram, 100),
      drainMs,
      serverCpu,
      clientCpu: Math.max(...reports.map((r) => r.cpuPercent)),
      closed: sum((r) => r.closed),
      closedTails: reports.flatMap((r) => r.closedTails).slice(0, 3),
      otherLines,
      maxSendQueue: Math.max(...reports.map((r) => r.maxSendQueue)),
      lateSendMs: Math.max(...reports.map((r) => r.lateSendMs)),
      metrics
    }
  } finally {
    running.delete(cleanup)
    await cleanup()
  }
}

/**
 * Several rounds of one server: the median of every figure, except deliveries after the drain (lost,
 * delivered) and out-of-order ones, which are the worst round's (one loss is a loss); the notes are
 * those of the round with the most closes.
 */
const combine = (runs: ReadonlyArray<Result>): Result => {
  if (runs.length === 1) return runs[0]!
  const median = (values: Array<number>) => {
    const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b)
    if (sorted.length === 0) return Number.NaN
    const mid = sorted.length >> 1
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }
  const worst = [...runs].sort((a, b) => b.closed - a.closed)[0]!
  const out: Record<string, unknown> = { ...worst }
  for (const [key, value] of Object.entries(worst)) {
    if (typeof value === "number") out[key] = median(runs.map((r) => (r as unknown as Record<string, number>)[key]!))
  }
  out.quiet = runs.every((r) => r.quiet)
  const worstDelivery = [...runs].sort((a, b) => b.lost - a.lost)[0]!
  out.lost = worstDelivery.lost
  out.received = worstDelivery.received
  out.expected = worstDelivery.expected
  out.outOfOrder = Math.max(...runs.map((r) => r.outOfOrder))
  return out as unknown as Result
}

// ---------------------------------------------------------------------------
// Report

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`
const ms = (value: number) => (Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(2) : value.toFixed(0))
const count = (n: number) => n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n))
const pct = (n: number) => `${n.toFixed(n < 10 && n > 0 ? 1 : 0)}%`
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "-")
const lost = (r: Result) => r.lost
const rate = (r: Result, s: Scenario) => r.inWindow / (s.windowMs / 1000)

const loadTable = (s: Scenario, results: ReadonlyArray<Result>): string => {
  const cluster = results.find((r) => r.server === (s.name.startsWith("irc") ? "ergo" : "cluster"))
  const head = [
    "server", "procs", "sent", "offered deliveries/s", "delivered in window/s", s.name.startsWith("irc") ? "vs Ergo" : "vs cluster anchor",
    "queued at window end", "delivered after drain", "lost after drain", "drain s", "p50 ms", "p99 ms", "out of order",
    "server CPU", "generator CPU (busiest proc)", "RSS rest", "RSS peak"
  ]
  const rows = results.map((r) => [
    r.label, r.processes, count(r.sent), count(r.expected / (s.windowMs / 1000)), count(rate(r, s)),
    cluster ? ratio(rate(r, s), rate(cluster, s)) : "-",
    pct(r.expected > 0 ? (1 - r.inWindow / r.expected) * 100 : 0),
    `${count(r.received)} of ${count(r.expected)}`,
    `${count(lost(r))}${r.expected > 0 ? ` (${pct((lost(r) / r.expected) * 100)})` : ""}`,
    (r.drainMs / 1000).toFixed(1), ms(r.p50), ms(r.p99), r.outOfOrder, pct(r.serverCpu), pct(r.clientCpu),
    mb(r.restRss), mb(r.peakRss)
  ])
  return [`| ${head.join(" | ")} |`, `|${" --- |".repeat(head.length)}`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n")
}

const idleTable = (s: Scenario, results: ReadonlyArray<Result>): string => {
  const cluster = results.find((r) => r.server === "cluster")
  const head = [
    "server", "procs", "connected", "connect s", "quiet after", "reached", "p50 ms", "p99 ms", "max ms",
    "RSS rest", "vs cluster anchor", "RSS connected", "per connection", "server CPU"
  ]
  const rows = results.map((r) => [
    r.label, r.processes, `${r.connected}${r.connectFailed > 0 ? ` (${r.connectFailed} failed)` : ""}`,
    (r.connectMs / 1000).toFixed(1), r.quiet ? `${(r.settleMs / 1000).toFixed(1)} s` : `not quiet in ${(s.settleMs / 1000).toFixed(0)} s`,
    `${r.received} of ${r.expected}`, ms(r.p50), ms(r.p99), ms(r.max), mb(r.restRss),
    cluster ? ratio(r.restRss, cluster.restRss) : "-", mb(r.connectedRss),
    kib((r.connectedRss - r.restRss) / Math.max(1, r.connected)), pct(r.serverCpu)
  ])
  return [`| ${head.join(" | ")} |`, `|${" --- |".repeat(head.length)}`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n")
}

const verdict = (ok: boolean) => (ok ? "met" : "**not met**")

let ergoResult: Result | undefined
const targets = (s: Scenario, results: ReadonlyArray<Result>): Array<string> => {
  ergoResult = results.find((r) => r.server === "ergo")
  const weft = results.find((r) => r.server === "weft")
  const cluster = results.find((r) => r.server === "cluster")
  const anchors = results.filter((r) => r.server === "net" || r.server === "cluster")
  if (weft === undefined) return []
  const base = results.find((r) => r.server === "base")
  const against = base === undefined ? [] : [
    s.name === "idle"
      ? `- weft against base: reached ${weft.received} vs ${base.received}, p99 ${ms(weft.p99)} vs ${ms(base.p99)} ms, RSS at rest ${ratio(weft.restRss, base.restRss)}`
      : `- weft against base: delivered in window ${ratio(rate(weft, s), rate(base, s))}, lost ${count(lost(weft))} vs ${count(lost(base))}, p99 ${ms(weft.p99)} vs ${ms(base.p99)} ms, RSS at rest ${ratio(weft.restRss, base.restRss)}`
  ]
  return [...targetsOf(s, weft, cluster, anchors), ...against]
}

const targetsOf = (s: Scenario, weft: Result, cluster: Result | undefined, anchors: ReadonlyArray<Result>): Array<string> => {
  switch (s.name) {
    case "irc1":
    case "irc2": {
      const ergo = ergoResult
      if (ergo === undefined) return ["- Ergo targets: no Ergo in this run"]
      const need = s.name === "irc1" ? 1 : 3
      return [
        `- target delivered in window >= ${need}x Ergo${s.name === "irc1" ? " with p99 <= 200 ms" : ""}: ${ratio(rate(weft, s), rate(ergo, s))}, p99 ${ms(weft.p99)} ms (Ergo ${ms(ergo.p99)} ms) — ${
          verdict(rate(weft, s) >= need * rate(ergo, s) && (s.name !== "irc1" || weft.p99 <= 200))
        }`
      ]
    }
    case "s1": {
      const best = Math.min(...anchors.map((a) => a.p99))
      return [
        `- target 0 lost: ${count(lost(weft))} lost — ${verdict(lost(weft) === 0)}`,
        anchors.length > 0
          ? `- target p99 <= the better anchor (${ms(best)} ms): ${ms(weft.p99)} ms (${ratio(weft.p99, best)}) — ${verdict(weft.p99 <= best)}`
          : "- p99 target: no anchor in this run"
      ]
    }
    case "s2":
      return [
        cluster
          ? `- target delivered in window >= 1.5x the cluster anchor: ${ratio(rate(weft, s), rate(cluster, s))} — ${verdict(rate(weft, s) >= 1.5 * rate(cluster, s))}`
          : "- 1.5x target: no cluster anchor in this run",
        `- target nothing lost once drained: ${count(lost(weft))} lost — ${verdict(lost(weft) === 0)}`
      ]
    default: {
      const perConnection = (weft.connectedRss - weft.restRss) / Math.max(1, weft.connected)
      return [
        `- target reaches all: ${weft.received} of ${weft.expected} — ${verdict(weft.expected > 0 && lost(weft) === 0)}`,
        lost(weft) === 0 || weft.expected === 0
          ? `- target p99 <= 200 ms: ${ms(weft.p99)} ms — ${verdict(weft.p99 <= 200)}`
          : `- target p99 <= 200 ms: ${ms(weft.p99)} ms over the ${weft.received} reached, but ${lost(weft)} never were within the ${s.drainMs / 1000} s drain${lost(weft) * 100 > weft.expected ? ", so the p99 over all recipients is beyond the drain" : ""} — ${verdict(weft.p99 <= 200 && lost(weft) * 100 <= weft.expected)}`,
        `- target <= 8 KiB per connection: ${kib(perConnection)} — ${verdict(perConnection <= 8192)}`,
        cluster
          ? `- target RSS at rest <= 1.2x the cluster anchor (${mb(cluster.restRss)}): ${mb(weft.restRss)} (${ratio(weft.restRss, cluster.restRss)}) — ${verdict(weft.restRss <= 1.2 * cluster.restRss)}`
          : "- RSS target: no cluster anchor in this run"
      ]
    }
  }
}

const notes = (s: Scenario, results: ReadonlyArray<Result>): Array<string> => {
  const out: Array<string> = []
  for (const r of results) {
    if (r.connectFailed > 0) out.push(`- ${r.label}: ${r.connectFailed} connections failed`)
    if (r.closed > 0) {
      out.push(`- ${r.label}: the server closed ${r.closed} connections; the last lines read: ${r.closedTails.map((t) => JSON.stringify(t.slice(-160))).join(", ")}`)
    }
    if (r.clientCpu >= 85) out.push(`- ${r.label}: a generator process was at ${pct(r.clientCpu)} of a core in the window: it may be the bottleneck`)
    if (r.maxSendQueue > 64 * 1024) {
      out.push(`- ${r.label}: up to ${kib(r.maxSendQueue)} waited in a sender's socket: the server read its senders slower than they sent (flood control or overload); send times are stamped when the line is written, so this wait is in the latency`)
    }
    if (r.metrics !== undefined) {
      out.push(`- ${r.label}, its /metrics after the drain: ${Object.entries(r.metrics).map(([k, v]) => `${k.replace(/^chat_|_total$/g, "")} ${v}`).join(", ")}`)
    }
    if (r.lateSendMs > 100) out.push(`- ${r.label}: a sender's timer ran up to ${ms(r.lateSendMs)} ms late (generator busy)`)
    const other = Object.entries(r.otherLines).sort((a, b) => b[1] - a[1]).slice(0, 6)
    if (other.length > 0) {
      out.push(`- ${r.label}, other lines read by the senders and one listener per process (by shape, # = digits): ${other.map(([k, v]) => `\`${k}\` x${v}`).join(", ")}`)
    }
  }
  if (s.name === "idle") {
    out.push(`- RSS at rest by process (the first is the primary): ${results.map((r) => `${r.label} ${r.restRssEach.map((b) => (b / 2 ** 20).toFixed(1)).join(" + ")} MB`).join("; ")}`)
    out.push("- per connection = (RSS with every connection open and the server quiet - RSS at rest) / connections")
  }
  return out
}

// ---------------------------------------------------------------------------

const main = async () => {
  const limits = fileLimits()
  const most = Math.max(...scenarios.map((n) => scenarioOf(n).clients))
  const perProc = Math.ceil(most / clientProcs) + 64
  console.log(`Runtime: node ${process.version} (generator, anchors); weft chat-server (${path.relative(repo, weftDir) || "."}${baseDir === undefined ? "" : `; base: ${baseDir}`}) on ${weftRuntime}; ${clientProcs} client processes; open files: soft ${limits.soft}, hard ${limits.hard}${ircFlag ? "; weft started with --irc-port 0" : ""}${quick ? "; --quick" : ""}`)
  if (limits.soft < perProc || limits.hard < most + 64) {
    console.log(`\n> **open-file limit too low**: ${most} connections need ${perProc} per client process and ${most + 64} in a single-process server (soft ${limits.soft}, hard ${limits.hard}); raise it with \`ulimit -n ${most * 2 + 1000}\` first.`)
  }
  let failed = false
  for (const name of scenarios) {
    const s = scenarioOf(name)
    const load = s.name === "idle"
      ? `${s.clients} connections, then one broadcast from one of them; drain up to ${s.drainMs / 1000} s`
      : `${s.clients} clients, ${s.senders} senders x ${s.rate} msg/s, ${s.windowMs / 1000} s window, drain up to ${s.drainMs / 1000} s`
    console.log(`\n### ${s.name}: ${load}; ${rounds} round${rounds > 1 ? "s (medians)" : ""}\n`)
    const loadStart = loadAverage()
    const byServer = new Map<string, Array<Result>>(servers.map((server) => [server, []]))
    for (let round = 0; round < rounds; round++) {
      // Each round starts with the next server, so no server always runs first (or last) in a round.
      for (const server of [...servers.slice(round % servers.length), ...servers.slice(0, round % servers.length)]) {
        try {
          byServer.get(server)!.push(await measure(s, server))
        } catch (error) {
          if (stopping) return await new Promise<never>(() => {}) // interrupted: the handler exits
          failed = true
          console.log(`- ${server}, round ${round + 1}: failed: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
    }
    const results = [...byServer.values()].filter((rs) => rs.length > 0).map(combine)
    if (results.length === 0) continue
    console.log(s.name === "idle" ? idleTable(s, results) : loadTable(s, results))
    console.log(`\nLoad average (1 min) at the start and end of this scenario: ${loadStart} and ${loadAverage()} (2 cores: above 2, other work on the machine is taking CPU from the servers and the generator).`)
    const lines = [...targets(s, results), ...notes(s, results)]
    if (lines.length > 0) console.log(`\n${lines.join("\n")}`)
  }
  process.exit(failed ? 1 : 0)
}

void main()
