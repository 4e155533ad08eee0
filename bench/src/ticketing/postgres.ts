/**
 * The ticket office on PostgreSQL: committed purchases/s through three
 * `serve --store postgres://...` instances (one stock), against a raw loop
 * of the same single conditional statement from three processes, in one
 * run.
 *
 * - **raw statement**: three processes (`raw-purchase.ts`), each running the
 *   store's own purchase statement (`PURCHASE`: take the next seat, insert
 *   the order, notify, in one statement) in a loop on a pool of 8
 *   connections, `CONNECTIONS / 3` statements in flight, each with a fresh
 *   idempotency key.
 * - **three instances**: three `serve --store` processes loaded over
 *   loopback by autocannon, `CONNECTIONS / 3` connections each, `POST /buy`
 *   with a buyer and a fresh `Idempotency-Key`; each answered 200 only after
 *   its statement committed.
 *
 * Interleaved round by round (reversed every other round), medians, and the
 * median paired ratio (each round's instances over the same round's raw
 * loop). Target: >= 0.8x. After the rounds the tables are checked: one
 * order per seat sold, seats 1..sold.
 *
 * The server is a throwaway one (`@weft/testkit/postgres`, Unix socket) in
 * the system's temporary directory, durable: fsync and synchronous_commit
 * on, so a purchase is answered after its commit's WAL flush (`FSYNC=off`:
 * the test suite's server, where nothing waits for the disk); or
 * `WEFT_PG_URL` (its database gets a `weft_tickets` schema).
 *
 *   node_modules/.bin/node bench/src/ticketing/postgres.ts
 *   (ROUNDS=5 SECONDS=4 CONNECTIONS=48 FSYNC=on)
 */
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import { Connection } from "@weft/cluster"
import { Effect } from "effect"
import postgres from "postgres"
import { start } from "@weft/testkit"
import { startServer } from "@weft/testkit/postgres"
import { median, runtime } from "../harness.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const SECONDS = Number(process.env.SECONDS ?? 4)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 48)
const per = Math.max(1, Math.round(CONNECTIONS / 3))
const main = fileURLToPath(new URL("../../../apps/ticketing/src/main.ts", import.meta.url))
const raw = fileURLToPath(new URL("./raw-purchase.ts", import.meta.url))

const DURABLE = process.env.FSYNC !== "off"
const server = process.env.WEFT_PG_URL ? { url: process.env.WEFT_PG_URL, stop: () => {} } : startServer(undefined, { durable: DURABLE })
if (server.url === undefined) {
  console.log(`(skipped: ${server.reason})`)
  process.exit(0)
}
const url = server.url

const connect = () => postgres({ ...Effect.runSync(Connection.options(url)).options, max: 1, onnotice: () => {} })

let round = 0

/** Three raw-statement processes, started, then let go together: purchases/s. */
const rawRound = async () => {
  const tag = `raw${round}`
  const procs = [0, 1, 2].map(() => start(raw, [url, String(per), "8", String(SECONDS), tag], { stderr: "inherit", name: "raw-purchase" }))
  await Promise.all(procs.map((p) => p.line("ready", 60_000)))
  const t0 = performance.now()
  procs.forEach((p) => p.send("go"))
  const counts = await Promise.all(procs.map(async (p) => Number((await p.line(/^done \d+/, 60_000 + SECONDS * 1000)).split(" ")[1])))
  const seconds = (performance.now() - t0) / 1000
  await Promise.all(procs.map((p) => p.closed))
  return { perSecond: counts.reduce((a, b) => a + b, 0) / seconds, p50: NaN, p99: NaN }
}

const load = (base: string, tag: string) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    let n = 0
    autocannon({
      url: `${base}/buy`,
      method: "POST",
      connections: per,
      duration: SECONDS,
      requests: [{
        setupRequest: (request: any) => ({
          ...request,
          headers: { ...request.headers, "content-type": "application/json", "idempotency-key": `${tag}-${n++}` },
          body: JSON.stringify({ buyer: "bench" })
        })
      }]
    } as autocannon.Options, (error, result) => error ? reject(error) : resolve(result))
  })

const httpRound = async (bases: ReadonlyArray<string>) => {
  const results = await Promise.all(bases.map((b, i) => load(b, `http${round}-${i}`)))
  const ok = results.reduce((n, r) => n + r["2xx"], 0)
  const other = results.reduce((n, r) => n + r.non2xx + r.errors, 0)
  const seconds = Math.max(...results.map((r) => r.duration))
  return { perSecond: ok / seconds, p50: median(results.map((r) => r.latency.p50)), p99: Math.max(...results.map((r) => r.latency.p99)), other }
}

const format = (n: number) => n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)

const program = async () => {
  const instances = [0, 1, 2].map(() => start(main, ["serve", "--store", url, "--tickets", "2000000000", "--port", "0"], { stdin: "ignore", stderr: "inherit", name: "serve" }))
  try {
    const bases = await Promise.all(instances.map(async (s) => /serving (http:\/\/\S+)/.exec(await s.line(/^serving http:\/\//, 120_000))![1]!))
    const raws: Array<number> = []
    const https: Array<{ perSecond: number; p50: number; p99: number; other: number }> = []
    await httpRound(bases) // warm-up: JIT, connections
    await rawRound()
    for (round = 1; round <= ROUNDS; round++) {
      if (round % 2 === 1) {
        raws.push((await rawRound()).perSecond)
        https.push(await httpRound(bases))
      } else {
        https.push(await httpRound(bases))
        raws.push((await rawRound()).perSecond)
      }
    }
    const sql = connect()
    // One statement, one snapshot (a purchase in flight when the load stopped may commit meanwhile).
    const [check] = await sql.unsafe(`SELECT (SELECT sold FROM weft_tickets.sale) AS sold, count(*)::int AS n, count(DISTINCT seat)::int AS seats,
      min(seat) AS lo, max(seat) AS hi FROM weft_tickets.orders`)
    await sql.end()
    const sale = check
    const exact = check!.n === sale!.sold && check!.seats === check!.n && (check!.n === 0 || (check!.lo === 1 && check!.hi === check!.n))

    const rawRate = median(raws)
    const httpRate = median(https.map((h) => h.perSecond))
    const mid = https.find((h) => h.perSecond === httpRate) ?? https[0]!
    const paired = median(https.map((h, i) => h.perSecond / raws[i]!))
    console.log(`PostgreSQL ${DURABLE && !process.env.WEFT_PG_URL ? "durable (fsync on, synchronous_commit on)" : process.env.WEFT_PG_URL ? "at WEFT_PG_URL" : "fsync off"}; ${runtime()}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, ${ROUNDS} interleaved rounds (median), ${SECONDS} s each`)
    console.log("")
    console.log("| case | purchases/s | p50 | p99 | vs raw |")
    console.log("| --- | --- | --- | --- | --- |")
    console.log(`| raw: the purchase statement in a loop, 3 processes x ${per} in flight (pool of 8 each) | ${format(rawRate)} | | | 1.00x |`)
    console.log(`| 3 \`serve --store\` instances, HTTP POST /buy with a key, 3 x ${per} connections | ${format(httpRate)} | ${mid.p50} ms | ${mid.p99} ms | ${(httpRate / rawRate).toFixed(2)}x (paired ${paired.toFixed(2)}x) |`)
    console.log("")
    console.log(`rounds: raw ${raws.map(format).join(", ")}; instances ${https.map((h) => format(h.perSecond)).join(", ")}; non-2xx or errors: ${https.reduce((n, h) => n + h.other, 0)}`)
    console.log(`store check: ${check!.n} orders, sold ${sale!.sold}, ${check!.seats} distinct seats: ${exact ? "ok" : "MISMATCH"}`)
    console.log(`target: instances >= 0.8x the raw statement: ${httpRate >= 0.8 * rawRate ? "met" : "NOT met"} (${(httpRate / rawRate).toFixed(2)}x, paired ${paired.toFixed(2)}x)`)
    return exact ? 0 : 1
  } finally {
    instances.forEach((s) => s.proc.kill("SIGTERM"))
    await Promise.all(instances.map((s) => s.exited))
  }
}

program().then((code) => {
  server.stop?.()
  process.exit(code)
}, (error) => {
  console.error(error)
  server.stop?.()
  process.exit(1)
})
