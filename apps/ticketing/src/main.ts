/**
 * weft ticketing — the 12306 ticket office.
 *
 *   node src/main.ts serve [--host 127.0.0.1] [--public-host NAME] [--port 0] [--data DIR | --file PATH | --store postgres://URL] [--tickets N] [--workers N] [--admin-token T] [--hold MS]
 *   node src/main.ts rush  [--tickets 3] [--buyers 10] [--lock file|manager|none] [--no-lock] [--think MS] [--hold MS] [--file PATH | --store postgres://URL]
 *
 * With `--workers N` (N > 1) this process is the cluster's primary: it forks
 * N workers that run this same file (they take the worker branch, reading
 * their settings from the environment) and share one port.
 */
import cluster from "node:cluster"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as Host from "@weft/app/Host"
import * as Inspector from "@weft/app/Inspector"
import * as Main from "@weft/app/Main"
import * as Serve from "@weft/app/Serve"
import * as Workers from "@weft/app/Workers"
import { Effect, Runtime } from "effect"
import * as Http from "./http.ts"
import * as Page from "./page.ts"
import { type LockKind, rush } from "./rush.ts"
import * as Store from "./store.ts"
import * as PgStore from "./store/postgres.ts"

const usage = `usage:
  serve [--host 127.0.0.1] [--public-host NAME] [--port 0] [--data DIR | --file PATH | --store postgres://URL] [--tickets N]
        [--workers 1] [--admin-token T] [--hold MS]
        the ticket office: GET /, GET /tickets, POST /buy, GET /orders/:id, POST /reset
        (--host: any IPv4 or IPv6 address, 0.0.0.0 or :: for every interface; default 127.0.0.1.
         --public-host: the name users reach it by, printed and accepted in Host headers;
         a wildcard --host prints this machine's host name)
        (the store is DIR/tickets.json, DIR being --data, else WEFT_DATA_DIR, else the
         repository's data/ folder (npm start's too); --file PATH names it outright;
         --tickets N starts a fresh sale of N; a missing store starts with 3 tickets;
         --store postgres://URL: one stock for every instance with that URL, on any machine;
         there --tickets N starts a sale only if the store has none, and others join it;
         --workers N serves from N processes on one port; the admin token may also come
         from TICKETING_ADMIN_TOKEN, and without one POST /reset is refused)
  rush  [--tickets 3] [--buyers 10] [--lock file|manager|none] [--no-lock] [--think MS] [--hold MS] [--file PATH | --store postgres://URL]
        one process per buyer (a ProcessPool); all start at one barrier, look, then buy`

/** The repository's `data/` folder, where `npm start` keeps its stores too. */
const defaultDataDir = fileURLToPath(new URL("../../../data", import.meta.url))

/** A bad command line: the message and the usage, exit code 2. */
class UsageError extends Error {
  override readonly [Runtime.errorExitCode] = 2
  constructor(problem: string) {
    super(`${problem}\n${usage}`)
  }
}

/** A rush under a lock that oversold: a bug, exit code 1. */
class OversoldError extends Error {
  override readonly [Runtime.errorExitCode] = 1
}

interface ServeSettings {
  /** A file, or a postgres:// URL. */
  readonly file: string
  readonly host: string
  readonly publicHost: string | undefined
  readonly port: number
  readonly adminToken: string | undefined
  readonly hold: number
}

const holdOf = (ms: number) => ms > 0 ? { hold: Effect.suspend(() => Effect.sleep(Math.floor(Math.random() * ms))) } : {}

/** One server process: the store, the API, the page. */
const serveHere = (settings: ServeSettings) =>
  Effect.gen(function*() {
    const store = yield* Store.open(settings.file, holdOf(settings.hold))
    const live = yield* Page.live(store)
    const app = Http.makeApp(store, {
      adminToken: settings.adminToken,
      onSale: live.poke,
      extend: (app) => Page.routes(app, store, live),
      guard: { host: settings.host, publicHost: settings.publicHost, scripts: [Page.script] }
    })
    // In a `--workers N` worker the port is shared through node:cluster.
    return yield* Serve.serve(app, { port: settings.port, hostname: settings.host, shared: cluster.isWorker })
  })

if (cluster.isWorker) {
  // A worker of `serve --workers N`: settings from the primary.
  const env = process.env
  // The primary is gone (even SIGKILLed): so is this worker.
  process.on("disconnect", () => process.exit(0))
  Inspector.setLabel(`ticketing worker ${cluster.worker!.id}`)
  Main.runMain(
    serveHere({
      file: env.WEFT_TICKETS_FILE!,
      host: env.WEFT_TICKETS_HOST || Host.loopback,
      publicHost: env.WEFT_TICKETS_PUBLIC_HOST || undefined,
      port: Number(env.WEFT_TICKETS_PORT),
      adminToken: env.TICKETING_ADMIN_TOKEN || undefined,
      hold: Number(env.WEFT_TICKETS_HOLD ?? 0)
    }).pipe(Effect.andThen(Effect.never), Effect.scoped),
    { name: `ticketing worker ${process.pid}` }
  )
} else {
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
          lock: { type: "string" },
          think: { type: "string" },
          hold: { type: "string" },
          file: { type: "string" },
          store: { type: "string" },
          data: { type: "string" },
          port: { type: "string" },
          host: { type: "string" },
          "public-host": { type: "string" },
          workers: { type: "string" },
          "admin-token": { type: "string" }
        },
        strict: true,
        allowPositionals: false
      }).values
    } catch (error) {
      console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
      process.exit(2)
    }
  })()

  const int = (name: string, fallback: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const raw = (options as Record<string, unknown>)[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    }
    return value
  }

  /** `--store URL`: a PostgreSQL store (with --file or --data, refused). */
  const postgresStore = (): string | undefined => {
    const url = options.store
    if (url === undefined) return undefined
    if (!PgStore.isUrl(url)) throw new UsageError(`--store must be a postgres:// URL (a file store is --file PATH), got ${JSON.stringify(PgStore.redact(url))}`)
    if (options.file !== undefined || options.data !== undefined) throw new UsageError(`--store and --file/--data disagree: give one`)
    return url
  }

  const rushMode = Effect.gen(function*() {
    const tickets = int("tickets", 3)!
    const buyers = int("buyers", 10, 1, 256)!
    const lockArg = options.lock ?? (options["no-lock"] === true ? "none" : "file")
    if (lockArg !== "file" && lockArg !== "manager" && lockArg !== "none") {
      throw new UsageError(`--lock must be file, manager or none, got ${JSON.stringify(lockArg)}`)
    }
    if (options["no-lock"] === true && lockArg !== "none") throw new UsageError(`--no-lock and --lock ${lockArg} disagree`)
    const url = postgresStore()
    if (url !== undefined && (options.lock !== undefined || options["no-lock"] === true)) {
      throw new UsageError(`--lock and --no-lock are for the file store; on PostgreSQL each purchase is one conditional statement`)
    }
    let file = url ?? options.file
    let dir: string | undefined
    if (file === undefined) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-rush-"))
      file = path.join(dir, "tickets.json")
    }
    const report = yield* rush({
      file: url ?? path.resolve(file),
      tickets,
      buyers,
      lock: lockArg as LockKind,
      think: int("think", 20)!,
      hold: int("hold", 20)!,
      onEvent: (line) => console.log(line)
    }).pipe(Effect.ensuring(Effect.sync(() => dir !== undefined && fs.rmSync(dir, { recursive: true, force: true }))))
    // Overselling is the point of --no-lock; with a lock it would be a bug.
    if (report.lock !== "none" && report.oversold) return yield* Effect.die(new OversoldError(`oversold under --lock ${report.lock}`))
  })

  const serveMode = Effect.gen(function*() {
    if (options.file !== undefined && options.data !== undefined) throw new UsageError(`--file and --data disagree: give one`)
    const pgUrl = postgresStore()
    if (pgUrl !== undefined && options.hold !== undefined) throw new UsageError(`--hold is for the file store (it holds the file lock)`)
    // Never the working directory: the data directory, as `npm start` uses it.
    const data = path.resolve(options.data ?? (process.env.WEFT_DATA_DIR || defaultDataDir))
    if (options.file === undefined && pgUrl === undefined) fs.mkdirSync(data, { recursive: true })
    const file = pgUrl ?? path.resolve(options.file ?? path.join(data, "tickets.json"))
    const hold = int("hold", 0)!
    const workers = int("workers", 1, 1, 64)!
    const adminToken = options["admin-token"] ?? (process.env.TICKETING_ADMIN_TOKEN || undefined)
    const host = Host.parse(options.host ?? Host.loopback)
    if (host instanceof Host.HostError) throw new UsageError(host.message)
    const publicHost = options["public-host"] === undefined ? undefined : Host.parsePublic(options["public-host"])
    if (publicHost instanceof Host.HostError) throw new UsageError(publicHost.message)
    const tickets = int("tickets", undefined)
    let shown = file
    let counts: Store.Counts
    if (pgUrl !== undefined) {
      // Many instances share this store: one may create the sale; none resets it without the admin token.
      const store = yield* PgStore.make(pgUrl)
      shown = store.file
      const created = tickets !== undefined && (yield* store.create(tickets))
      const { count, sold, total } = yield* store.tickets
      if (created) console.log(`started a sale of ${total} tickets in ${store.file}`)
      else if (total === 0 && sold === 0) console.log(`no sale in ${store.file} yet: start one instance with --tickets N, or POST /reset with the admin token`)
      else if (tickets !== undefined) console.log(`joined the sale in ${store.file} (${count} of ${total} left); --tickets ${tickets} is ignored: a reset needs the admin token`)
      else console.log(`joined the sale in ${store.file} (${count} of ${total} left)`)
      counts = { count, sold, total }
    } else {
      const store = yield* Store.make(file)
      if (tickets !== undefined) yield* store.reset(tickets)
      else if (!fs.existsSync(file)) yield* store.reset(3)
      counts = yield* store.tickets
    }
    const { count, total } = counts
    let port: number
    if (workers === 1) {
      Inspector.setLabel("ticketing")
      port = (yield* serveHere({ file, host, publicHost, port: int("port", 0, 0, 65535)!, adminToken, hold })).port
    } else {
      port = int("port", 0, 0, 65535)! || (yield* Workers.freePort(host))
      // The workers' /inspect shows this process and every worker.
      yield* Inspector.primary({ label: "ticketing primary" })
      yield* Workers.fork({
        count: workers,
        env: {
          WEFT_TICKETS_FILE: file,
          WEFT_TICKETS_HOST: host,
          WEFT_TICKETS_PUBLIC_HOST: publicHost ?? "",
          WEFT_TICKETS_PORT: String(port),
          WEFT_TICKETS_HOLD: String(hold),
          TICKETING_ADMIN_TOKEN: adminToken ?? ""
        },
        log: (line) => console.log(line)
      })
    }
    // Where users reach it: a wildcard bind is named by this machine's host name, or --public-host.
    const url = Host.url(Host.shown(host, publicHost), port)
    console.log(`serving ${url} (${workers} process${workers === 1 ? "" : "es"}, store ${shown}, ${count} of ${total} left)`)
    console.log(`  open ${url}/ in a browser, or:`)
    console.log(`  curl ${url}/tickets`)
    console.log(`  curl -X POST ${url}/buy -H 'Content-Type: application/json' -H 'Idempotency-Key: my-key-1' -d '{"buyer": "ada"}'`)
    if (adminToken === undefined) console.log(`  (POST /reset is disabled: no --admin-token or TICKETING_ADMIN_TOKEN)`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

  const program: Effect.Effect<void, unknown> = Effect.suspend(() => {
    switch (command) {
      case "rush":
        return rushMode
      case "serve":
        return serveMode
      default:
        return Effect.fail(new UsageError(command === undefined ? "no mode given" : `unknown mode ${JSON.stringify(command)}`))
    }
  })
  Main.runMain(program, { name: "ticketing" })
}
