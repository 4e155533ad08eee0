/**
 * The ticket office, durable: purchases/s through the HTTP API against the
 * fsync bound of the same disk, in one run.
 *
 * - **fsync bound**: a bare loop of the sequence one durable writer needs
 *   when it rewrites a file — write a temporary file, fsync it, rename it
 *   over the target, fsync the directory — in the directory the store lives
 *   in. One writer at a time tops out at 1 / (that sequence's time).
 * - **durable purchases/s**: `serve --workers 2` (two server processes, one
 *   store) loaded over loopback by autocannon: `POST /buy` with a buyer
 *   name, each answered only after its order is fsynced (group commit: the
 *   purchases that queue while one batch is written go in the next, with one
 *   write and one fsync). p50 / p99 from autocannon.
 *
 * The two are interleaved round by round; the figure is the median round,
 * and the target is purchases/s >= 1.0x the bound. After the rounds, the
 * store is reopened and must hold exactly the purchases that were answered
 * 200, with no seat twice.
 *
 * Then the rush (`apps/ticketing rush`) once with each lock kind: buyers are
 * ProcessPool tasks started by a Manager barrier.
 *
 * The app runs as a process (`apps/ticketing/src/main.ts`), never imported;
 * the store is checked by reading its files here, independently of the app's
 * own reader (the format is in apps/ticketing/README.md).
 *
 *   node_modules/.bin/node bench/src/ticketing/main.ts
 *   (ROUNDS=3 SECONDS=4 CONNECTIONS=64 TMP=/path/on/the/disk)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import { start } from "@weft/testkit"
import { median, runtime } from "../harness.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const SECONDS = Number(process.env.SECONDS ?? 4)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64)
const BOUND_OPS = Number(process.env.BOUND_OPS ?? 1000)
const main = fileURLToPath(new URL("../../../apps/ticketing/src/main.ts", import.meta.url))

const dir = fs.mkdtempSync(path.join(process.env.TMP ?? os.tmpdir(), "weft-bench-tickets-"))

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

/** The bare durable-rewrite loop: ops/s and per-op p50 / p99 in ms. */
const fsyncBound = (ops: number) => {
  const target = path.join(dir, "bound.json")
  const tmp = path.join(dir, ".bound.json.tmp")
  const payload = Buffer.from(JSON.stringify({ count: 1000, pad: "x".repeat(64) }) + "\n")
  const times: Array<number> = []
  const started = performance.now()
  for (let i = 0; i < ops; i++) {
    const t0 = performance.now()
    const fd = fs.openSync(tmp, "w")
    fs.writeSync(fd, payload)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(tmp, target)
    const dfd = fs.openSync(dir, "r")
    fs.fsyncSync(dfd)
    fs.closeSync(dfd)
    times.push(performance.now() - t0)
  }
  const seconds = (performance.now() - started) / 1000
  times.sort((a, b) => a - b)
  return { opsPerSecond: ops / seconds, p50: percentile(times, 0.5), p99: percentile(times, 0.99) }
}

/** `serve --workers 2` on a fresh store; resolves with its URL once it serves. */
const startServer = async (file: string) => {
  const server = start(main, ["serve", "--file", file, "--tickets", "100000000", "--workers", "2"], { stdin: "ignore", stderr: "inherit", name: "serve" })
  const url = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(await server.line(/serving http:\/\/127\.0\.0\.1:\d+/, 120_000))![1]!
  return {
    url,
    stop: async () => {
      process.kill(server.proc.pid!, "SIGTERM")
      await server.exited
    }
  }
}

const load = (url: string) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({
      url: `${url}/buy`,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ buyer: "bench" }),
      connections: CONNECTIONS,
      duration: SECONDS
    }, (error, result) => error ? reject(error) : resolve(result))
  })

/** Every order in the store, read from its files: the snapshot's, then the journal's frames. */
const ordersOnDisk = (file: string): Array<{ seat: number }> => {
  const [header, body] = fs.readFileSync(file, "utf8").split("\n")
  if (!header!.startsWith('{"weft":"tickets"')) throw new Error(`not a v2 snapshot: ${header}`)
  const snapshot = JSON.parse(body!) as { journal: string; orders: Array<{ seat: number }> }
  const orders = [...snapshot.orders]
  const bytes = fs.readFileSync(path.join(path.dirname(file), snapshot.journal))
  for (let at = 0; at + 12 <= bytes.length;) {
    if (bytes.readUInt32LE(at) !== 0x314a5457) break
    const length = bytes.readUInt32LE(at + 4)
    if (at + 12 + length > bytes.length) break
    const record = JSON.parse(bytes.subarray(at + 12, at + 12 + length).toString("utf8")) as { t: string; seat: number }
    if (record.t === "order") orders.push(record)
    at += 12 + length
  }
  return orders
}

/** `rush` as a process: its summary lines. */
const runRush = async (lock: string, file: string) => {
  const rush = start(main, ["rush", "--file", file, "--tickets", "5", "--buyers", "16", "--lock", lock, "--think", "0", "--hold", "5"], { stdin: "ignore", stderr: "inherit" })
  const { code } = await rush.closed
  const out = rush.stdout()
  const sold = /sold (\d+) of (\d+) tickets/.exec(out)
  if (code !== 0 || sold === null) throw new Error(`rush --lock ${lock} exited with ${code}: ${out}`)
  return {
    sold: Number(sold[1]),
    tickets: Number(sold[2]),
    seats: (/^seats: (.*)$/m.exec(out)?.[1] ?? "").replace(/ → buyer \d+/g, "").replace(/,/g, ""),
    oversold: /OVERSOLD by (\d+)/.exec(out)?.[1] ?? ""
  }
}

const format = (n: number) => n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)

const program = async () => {
  const file = path.join(dir, "tickets.json")
  const server = await startServer(file)
  const bounds: Array<ReturnType<typeof fsyncBound>> = []
  const rounds: Array<{ perSecond: number; p50: number; p99: number; ok: number; other: number }> = []
  let confirmed = 0
  try {
    fsyncBound(Math.floor(BOUND_OPS / 10)) // warm-up
    await load(server.url) // warm-up
    confirmed = ((await (await fetch(`${server.url}/tickets`)).json()) as { sold: number }).sold
    for (let round = 0; round < ROUNDS; round++) {
      bounds.push(fsyncBound(BOUND_OPS))
      const result = await load(server.url)
      const ok = result["2xx"]
      confirmed += ok
      rounds.push({ perSecond: ok / result.duration, p50: result.latency.p50, p99: result.latency.p99, ok, other: result.non2xx + result.errors })
    }
  } finally {
    await server.stop()
  }
  const onDisk = ordersOnDisk(file)
  const seats = new Set(onDisk.map((o) => o.seat))
  // Every purchase answered 200 is on disk. Beyond them, at most the requests in flight when autocannon
  // stopped (one per connection per run) may have been committed without their answer being counted.
  const slack = CONNECTIONS * (ROUNDS + 1)
  const exact = onDisk.length >= confirmed && onDisk.length <= confirmed + slack && seats.size === onDisk.length

  const bound = median(bounds.map((b) => b.opsPerSecond))
  const purchases = median(rounds.map((r) => r.perSecond))
  const mid = rounds.find((r) => r.perSecond === purchases) ?? rounds[0]!
  console.log(`${runtime()}, ${os.cpus().length} CPUs, ${ROUNDS} interleaved rounds (median), store in ${path.dirname(dir)}`)
  console.log("")
  console.log("| case | per second | p50 | p99 | vs fsync bound |")
  console.log("| --- | --- | --- | --- | --- |")
  console.log(`| fsync bound: write tmp + fsync + rename + fsync dir, one writer | ${format(bound)} | ${median(bounds.map((b) => b.p50)).toFixed(2)} ms | ${median(bounds.map((b) => b.p99)).toFixed(2)} ms | 1.00x |`)
  console.log(`| durable purchases, HTTP POST /buy, 2 server processes, ${CONNECTIONS} connections | ${format(purchases)} | ${mid.p50} ms | ${mid.p99} ms | ${(purchases / bound).toFixed(2)}x |`)
  console.log("")
  console.log(`rounds (purchases/s): ${rounds.map((r) => format(r.perSecond)).join(", ")}; non-2xx or errors: ${rounds.reduce((n, r) => n + r.other, 0)}`)
  console.log(
    `store check: ${onDisk.length} orders on disk, ${confirmed} answered 200 (the rest were in flight when the load stopped; at most ${slack}), ` +
      `${seats.size} distinct seats: ${exact ? "ok" : "MISMATCH"}`
  )
  console.log(`target: durable purchases/s >= 1.0x the fsync bound: ${purchases >= bound ? "met" : "NOT met"} (${(purchases / bound).toFixed(2)}x)`)

  console.log("")
  console.log("| rush: 16 buyer processes, 5 tickets, --think 0 --hold 5 (the CLI, start-up included) | sold | seats | oversold | wall time |")
  console.log("| --- | --- | --- | --- | --- |")
  for (const lock of ["file", "manager", "none"] as const) {
    const started = performance.now()
    const report = await runRush(lock, path.join(dir, `rush-${lock}.json`))
    const ms = performance.now() - started
    console.log(`| --lock ${lock} | ${report.sold} of ${report.tickets} | ${report.seats} | ${report.oversold ? `yes, by ${report.oversold}` : "no"} | ${(ms / 1000).toFixed(1)} s |`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
  return exact && purchases >= bound ? 0 : 1
}

program().then((code) => process.exit(code), (error) => {
  console.error(error)
  fs.rmSync(dir, { recursive: true, force: true })
  process.exit(1)
})
