/**
 * `npm start`'s flags: the ports (each with a fixed default), the workers of
 * the chat and the ticket office, where the ticket store lives, and whether
 * to build the packages first. A bad flag is a `UsageError` naming it.
 */
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Data, Runtime } from "effect"

/**
 * A bad flag; exits 2.
 *
 * @example
 * ```ts
 * new UsageError({ message: "--port: \"x\" is not a whole number from 0 to 65535" })
 * ```
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {
  override readonly [Runtime.errorExitCode] = 2
}

/**
 * What the flags say.
 *
 * @example
 * ```ts
 * const options = parse(["--port", "9000"], root) as Options // options.port === 9000
 * ```
 */
export interface Options {
  /** The landing page. */
  readonly port: number
  readonly chatPort: number
  readonly ircPort: number
  readonly chatHttpPort: number
  readonly ticketsPort: number
  readonly trafficPort: number
  /** Worker processes of the chat and of the ticket office. */
  readonly workers: number
  /** The directory of the ticket store (created if missing). */
  readonly data: string
  /** Build the packages the apps import when their `dist/` is missing or older than their sources. */
  readonly build: boolean
  /** The address every server binds (`--host`); 127.0.0.1 unless told. */
  readonly host: string
  /** `--public-host`: the name printed and linked instead of a wildcard bind's host name. */
  readonly publicHost: string | undefined
  /**
   * `--cluster`: the PostgreSQL server every app shares (the chat's registry, the ticket
   * store, the traffic light's event), so that `npm start` on several machines is one of each.
   */
  readonly cluster?: string | undefined
}

/**
 * The fixed defaults.
 *
 * @example
 * ```ts
 * defaults.port // 8080
 * ```
 */
export const defaults = {
  port: 8080,
  chatPort: 7000,
  ircPort: 6667,
  chatHttpPort: 8081,
  ticketsPort: 8082,
  trafficPort: 8083,
  workers: 2
} as const

/**
 * `--help`'s text.
 *
 * @example
 * ```ts
 * console.log(usage)
 * ```
 */
export const usage = `usage: npm start -- [options]

Starts the chat (nc, IRC and the web), the ticket office and the traffic light's
live page, and a landing page that links them and shows which are up. Ctrl-C
stops everything.

The ticket office's POST /reset (a fresh sale) is off unless a token is set in
the environment: TICKETING_ADMIN_TOKEN=s3cret npm start, then send it as
"Authorization: Bearer s3cret" (curl -X POST -H 'Authorization: Bearer s3cret'
-H 'content-type: application/json' -d '{"count":100}' http://127.0.0.1:8082/reset).

  --port N             the landing page                          default ${defaults.port}
  --chat-port N        the chat for nc (plain TCP lines)          default ${defaults.chatPort}
  --irc-port N         the chat for IRC clients                   default ${defaults.ircPort}
  --chat-http-port N   the chat's web page                        default ${defaults.chatHttpPort}
  --tickets-port N     the ticket office                          default ${defaults.ticketsPort}
  --traffic-port N     the traffic light                          default ${defaults.trafficPort}
  --workers N          processes of the chat and of the ticket office (1 to 16)  default ${defaults.workers}
  --data DIR           where the ticket store lives               default ./data
  --host ADDR          the address every server listens on: any IPv4 or IPv6
                       address, 0.0.0.0 or :: for every interface  default 127.0.0.1
  --public-host NAME   the name printed and linked for a wildcard --host
                       (default: this machine's host name); also the name the
                       servers answer to
  --cluster URL        run all three on a cluster: a PostgreSQL server shared with
                       npm start on other machines (postgres://user@host:5432/db);
                       the chat and the ticket office become one across machines,
                       and cars of other machines join the traffic light's runs
                       default: WEFT_CLUSTER_URL if set, else none (one
                       machine, no database)
  --no-build           do not build the packages first (they are built when their
                       dist/ is missing or older than their sources)
  --help               this text

Every server listens on 127.0.0.1 only unless --host says otherwise. Port 0
picks a free one.`

const portFlags = {
  port: "port",
  chatPort: "chat-port",
  ircPort: "irc-port",
  chatHttpPort: "chat-http-port",
  ticketsPort: "tickets-port",
  trafficPort: "traffic-port"
} as const

const int = (flag: string, text: string, min: number, max: number): number | UsageError => {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  return value >= min && value <= max ? value : new UsageError({ message: `--${flag}: "${text}" is not a whole number from ${min} to ${max}` })
}

/**
 * Reads the flags (without the runtime and script) against `root`, the repository.
 *
 * @example
 * ```ts
 * parse(["--chat-port", "0", "--no-build"], "/repo") // { ..., chatPort: 0, build: false, data: "/repo/data" }
 * parse(["--port", "8081"], "/repo") // UsageError: --chat-http-port and --port are both 8081
 * ```
 */
export const parse = (
  argv: ReadonlyArray<string>,
  root: string,
  env: Readonly<Record<string, string | undefined>> = {}
): Options | UsageError | "help" => {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.values(portFlags).map((flag) => [flag, { type: "string" as const }])),
        workers: { type: "string" },
        data: { type: "string" },
        host: { type: "string" },
        "public-host": { type: "string" },
        cluster: { type: "string" },
        build: { type: "boolean" },
        "no-build": { type: "boolean" },
        help: { type: "boolean", short: "h" }
      }
    }).values
  } catch (error) {
    return new UsageError({ message: error instanceof Error ? error.message : String(error) })
  }
  if (values.help === true) return "help"
  const ports: Record<string, number> = {}
  for (const [key, flag] of Object.entries(portFlags)) {
    const text = values[flag]
    if (text === undefined) {
      ports[key] = defaults[key as keyof typeof portFlags]
      continue
    }
    const port = int(flag, String(text), 0, 65535)
    if (port instanceof UsageError) return port
    ports[key] = port
  }
  const fixed = Object.entries(ports).filter(([, port]) => port !== 0)
  for (const [i, [key, port]] of fixed.entries()) {
    const other = fixed.slice(0, i).find(([, p]) => p === port)
    if (other) return new UsageError({ message: `--${portFlags[key as keyof typeof portFlags]} and --${portFlags[other[0] as keyof typeof portFlags]} are both ${port}` })
  }
  const workers = values.workers === undefined ? defaults.workers : int("workers", String(values.workers), 1, 16)
  if (workers instanceof UsageError) return workers
  // As given: they are checked by the launcher (`checkHosts`), with @weft/app's Host, once it is built.
  const host = typeof values.host === "string" ? values.host : "127.0.0.1"
  const publicHost = typeof values["public-host"] === "string" ? values["public-host"] : undefined
  // The chat reads WEFT_CLUSTER_URL from its environment: all three follow it, or none would.
  const cluster = typeof values.cluster === "string"
    ? clusterUrl(values.cluster)
    : env.WEFT_CLUSTER_URL
    ? clusterUrl(env.WEFT_CLUSTER_URL, "WEFT_CLUSTER_URL")
    : undefined
  if (cluster instanceof UsageError) return cluster
  return {
    ...(ports as { [K in keyof typeof portFlags]: number }),
    workers,
    data: path.resolve(root, typeof values.data === "string" ? values.data : "data"),
    build: values["no-build"] !== true,
    host,
    publicHost,
    ...(cluster === undefined ? {} : { cluster })
  }
}

/**
 * `--cluster`'s URL (or `WEFT_CLUSTER_URL`'s, named by `source`), checked here (this module imports nothing built): a
 * `postgres://` or `postgresql://` URL that names a server (a host, or
 * libpq's `?host=/socket/dir`). A password is hidden in the message.
 *
 * @example
 * ```ts
 * clusterUrl("postgres://weft@db.internal:5432/weft") // "postgres://weft@db.internal:5432/weft"
 * clusterUrl("db.internal") // UsageError: --cluster: "db.internal" is not a URL ...
 * ```
 */
export const clusterUrl = (text: string, source = "--cluster"): string | UsageError => {
  const shown = text.replace(/:[^:@/]*@/, ":***@")
  const example = "(e.g. postgres://user@db.example:5432/weft)"
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return new UsageError({ message: `${source}: "${shown}" is not a URL ${example}` })
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return new UsageError({ message: `${source}: "${shown}" is not a PostgreSQL URL: the scheme must be postgres:, not ${url.protocol} ${example}` })
  }
  if (url.hostname === "" && !url.searchParams.has("host")) {
    return new UsageError({ message: `${source}: "${shown}" names no server ${example}` })
  }
  return text
}
