/**
 * The command line: `--scope fiber|thread|process|cluster --cars 5 --green 2s
 * --red 3s --duration 10s [--cluster URL --machine NAME]` (every flag
 * optional), `serve --host 127.0.0.1 --port 0 [--cluster URL]`, or
 * `cars --cluster URL --count N`. A bad flag is a `UsageError` that names the
 * flag and what was wrong.
 */
import { parseArgs } from "node:util"
import * as Host from "@weft/app/Host"
import { Data } from "effect"
import { defaultMachine, type Target } from "./cluster.ts"
import { type Config, type ScopeName, scopes } from "./scopes.ts"

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export const maxCars = 50

export const usage = `usage: traffic-light [--scope fiber|thread|process|cluster] [--cars N] [--green D] [--red D] [--duration D]
                     [--cluster URL] [--machine NAME]
       traffic-light serve [--host 127.0.0.1] [--public-host NAME] [--port P] [--scope S] [--cluster URL] [--machine NAME]
       traffic-light cars --cluster URL [--count N] [--machine NAME]

  --scope     where the cars run: fibers (Event), worker threads (SharedEvent),
              child processes (a Manager's event), or machines sharing a
              PostgreSQL server (a cluster event)                default: fiber
              (cluster when --cluster is given)
  --cluster   the PostgreSQL server of the cluster scope: postgres://user@host:5432/db
  --machine   this machine's name on the page                    default: its host name
  --cars      how many cars (1 to 50), arriving evenly spread    default: 5
  --green     how long the light stays green                     default: 2s
  --red       how long the light stays red (it starts red)       default: 3s
  --duration  how long the light runs                            default: 10s

  D is a duration: 500ms, 2s, 1.5s or 1m.

  serve       the live page on http://127.0.0.1:P (--port 0, the default: a free
              one): start runs at any scope from a form, watch the light and the
              cars over Server-Sent Events; --scope is the form's first choice
              (cluster runs need --cluster)
  --host      the address to listen on: any IPv4 or IPv6 address, 0.0.0.0 or ::
              for every interface                               default: 127.0.0.1
  --public-host  the name users reach it by (printed, and accepted as Host);
              a wildcard --host prints this machine's host name

  cars        joins the cluster run that is going (or the next one) with
              --count N cars of this machine (1 to 50, default 5); they wait
              on the same light, and the page shows them with --machine.
              --cluster may also come from WEFT_CLUSTER_URL`

const defaults = { scope: "fiber", cars: "5", green: "2s", red: "3s", duration: "10s" } as const

const units = { ms: 1, s: 1000, m: 60_000 } as const

/** How a message names a flag: `--cars` on the command line; the page says `Cars`. */
export type Label = (flag: string) => string

const flagLabel: Label = (flag) => `--${flag}`

/** "500ms", "2s", "1.5s", "1m" -> milliseconds (at least 1). */
export const parseDuration = (flag: string, text: string, label: Label = flagLabel): number | UsageError => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim())
  if (!match) return new UsageError({ message: `${label(flag)}: "${text}" is not a duration (use e.g. 500ms, 2s, 1.5s, 1m)` })
  const ms = Math.round(Number(match[1]) * units[match[2] as keyof typeof units])
  if (ms < 1) return new UsageError({ message: `${label(flag)}: "${text}" is too short (at least 1ms)` })
  return ms
}

/**
 * A `--cluster` URL: `postgres://` or `postgresql://`, with a server (a host,
 * or libpq's `?host=/socket/dir`). The message hides a password.
 *
 * @example
 * ```ts
 * parseCluster("cluster", "postgres://weft@db.internal:5432/weft") // "postgres://weft@db.internal:5432/weft"
 * parseCluster("cluster", "http://db") // UsageError: --cluster: "http://db" is not a PostgreSQL URL ...
 * ```
 */
export const parseCluster = (flag: string, text: string): string | UsageError => {
  const shown = text.replace(/:[^:@/]*@/, ":***@")
  const bad = (why: string) =>
    new UsageError({ message: `--${flag}: "${shown}" ${why} (e.g. postgres://user@db.example:5432/weft)` })
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return bad("is not a PostgreSQL URL")
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") return bad(`is not a PostgreSQL URL: its scheme is ${url.protocol} and must be postgres:`)
  if (url.hostname === "" && !url.searchParams.has("host")) return bad("names no server")
  return text
}

/**
 * A `--machine` name: letters, digits, `.`, `_` and `-`, up to 63 characters.
 *
 * @example
 * ```ts
 * parseMachine("lights-2") // "lights-2"
 * ```
 */
export const parseMachine = (text: string): string | UsageError =>
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(text)
    ? text
    : new UsageError({ message: `--machine: "${text}" is not a machine name (letters, digits, ".", "_" and "-", up to 63)` })

const clusterOf = (cluster: string | undefined, machine: string | undefined): Target | undefined | UsageError => {
  if (cluster === undefined) {
    return machine === undefined ? undefined : new UsageError({ message: "--machine: only with --cluster" })
  }
  const url = parseCluster("cluster", cluster)
  if (url instanceof UsageError) return url
  const name = parseMachine(machine ?? defaultMachine())
  return name instanceof UsageError ? name : { url, machine: name }
}

/**
 * What the flags of one run say: its `Config`, and at cluster scope where the cluster is.
 *
 * @example
 * ```ts
 * const options: RunOptions = { scope: "cluster", cars: 5, green: 2000, red: 3000, duration: 10_000, cluster: { url, machine: "a" } }
 * ```
 */
export type RunOptions = Config & { readonly cluster?: Target }

/**
 * Reads the flags (`argv` without the runtime and script) into a `Config`, or
 * says what was wrong, naming each flag with `label`.
 */
export const parse = (argv: ReadonlyArray<string>, label: Label = flagLabel): RunOptions | UsageError | "help" => {
  let values: { [K in keyof typeof defaults]?: string | undefined } & { help?: boolean | undefined; cluster?: string | undefined; machine?: string | undefined }
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        scope: { type: "string" },
        cars: { type: "string" },
        green: { type: "string" },
        red: { type: "string" },
        duration: { type: "string" },
        cluster: { type: "string" },
        machine: { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    }).values
  } catch (error) {
    return new UsageError({ message: error instanceof Error ? error.message : String(error) })
  }
  if (values.help) return "help"
  const scope = values.scope ?? (values.cluster === undefined ? defaults.scope : "cluster")
  if (!scopes.includes(scope as ScopeName)) {
    return new UsageError({ message: `${label("scope")}: "${scope}" is not a scope (use fiber, thread, process or cluster)` })
  }
  const cluster = clusterOf(values.cluster, values.machine)
  if (cluster instanceof UsageError) return cluster
  if (cluster !== undefined && scope !== "cluster") return new UsageError({ message: `--cluster: only with --scope cluster (not ${scope})` })
  const carsText = values.cars ?? defaults.cars
  const cars = /^\d+$/.test(carsText) ? Number(carsText) : Number.NaN
  if (!(cars >= 1 && cars <= maxCars)) {
    return new UsageError({ message: `${label("cars")}: "${carsText}" is not a whole number from 1 to ${maxCars}` })
  }
  const green = parseDuration("green", values.green ?? defaults.green, label)
  if (green instanceof UsageError) return green
  const red = parseDuration("red", values.red ?? defaults.red, label)
  if (red instanceof UsageError) return red
  const duration = parseDuration("duration", values.duration ?? defaults.duration, label)
  if (duration instanceof UsageError) return duration
  const config: Config = { scope: scope as ScopeName, cars, green, red, duration }
  return cluster === undefined ? config : { ...config, cluster }
}

/**
 * `serve`'s flags.
 *
 * @example
 * ```ts
 * const options: ServeOptions = { port: 8083, host: "0.0.0.0", publicHost: "lights.example.org" }
 * ```
 */
export interface ServeOptions {
  readonly port: number
  /** The address to bind (`--host`), 127.0.0.1 unless told. */
  readonly host: string
  /** `--public-host`: the name to print and to accept in `Host`. */
  readonly publicHost: string | undefined
  /** `--scope`: the form's first choice. */
  readonly scope: ScopeName
  /** `--cluster` and `--machine`: the page may start cluster runs. */
  readonly cluster?: Target | undefined
}

/**
 * `serve`'s flags (`argv` after `serve`): the port, 0 (a free one) unless
 * told; the address, 127.0.0.1 unless told; the public name, if any.
 *
 * @example
 * ```ts
 * parseServe(["--port", "8083"]) // { port: 8083, host: "127.0.0.1", publicHost: undefined, scope: "fiber" }
 * ```
 */
export const parseServe = (argv: ReadonlyArray<string>): ServeOptions | UsageError | "help" => {
  let values: {
    port?: string | undefined
    host?: string | undefined
    "public-host"?: string | undefined
    scope?: string | undefined
    cluster?: string | undefined
    machine?: string | undefined
    help?: boolean | undefined
  }
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "public-host": { type: "string" },
        scope: { type: "string" },
        cluster: { type: "string" },
        machine: { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    }).values
  } catch (error) {
    return new UsageError({ message: error instanceof Error ? error.message : String(error) })
  }
  if (values.help) return "help"
  const text = values.port ?? "0"
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!(port >= 0 && port <= 65535)) return new UsageError({ message: `--port: "${text}" is not a port (0 to 65535)` })
  const host = Host.parse(values.host ?? Host.loopback)
  if (host instanceof Host.HostError) return new UsageError({ message: host.message })
  const publicHost = values["public-host"] === undefined ? undefined : Host.parsePublic(values["public-host"])
  if (publicHost instanceof Host.HostError) return new UsageError({ message: publicHost.message })
  const cluster = clusterOf(values.cluster, values.machine)
  if (cluster instanceof UsageError) return cluster
  const scope = values.scope ?? (cluster === undefined ? defaults.scope : "cluster")
  if (!scopes.includes(scope as ScopeName)) {
    return new UsageError({ message: `--scope: "${scope}" is not a scope (use fiber, thread, process or cluster)` })
  }
  if (scope === "cluster" && cluster === undefined) return new UsageError({ message: "--scope cluster: needs --cluster URL" })
  return { port, host, publicHost, scope: scope as ScopeName, cluster }
}

/**
 * `cars`' flags: where the cluster is, how many cars, this machine's name.
 *
 * @example
 * ```ts
 * const options: CarsOptions = { cluster: { url, machine: "lights-2" }, count: 3 }
 * ```
 */
export interface CarsOptions {
  readonly cluster: Target
  readonly count: number
}

/**
 * `cars`' flags (`argv` after `cars`); `--cluster` may come from `env.WEFT_CLUSTER_URL`.
 *
 * @example
 * ```ts
 * parseCars(["--cluster", "postgres://weft@db/weft", "--count", "3"], {}) // { cluster: { url, machine: os.hostname() }, count: 3 }
 * ```
 */
export const parseCars = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): CarsOptions | UsageError | "help" => {
  let values: { cluster?: string | undefined; count?: string | undefined; machine?: string | undefined; help?: boolean | undefined }
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { cluster: { type: "string" }, count: { type: "string" }, machine: { type: "string" }, help: { type: "boolean", short: "h" } }
    }).values
  } catch (error) {
    return new UsageError({ message: error instanceof Error ? error.message : String(error) })
  }
  if (values.help) return "help"
  const url = values.cluster ?? env.WEFT_CLUSTER_URL
  if (url === undefined) return new UsageError({ message: "--cluster: missing: the cluster to join (postgres://..., or WEFT_CLUSTER_URL)" })
  const cluster = clusterOf(url, values.machine)
  if (cluster === undefined || cluster instanceof UsageError) return cluster ?? new UsageError({ message: "--cluster: missing" })
  const text = values.count ?? "5"
  const count = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!(count >= 1 && count <= maxCars)) return new UsageError({ message: `--count: "${text}" is not a whole number from 1 to ${maxCars}` })
  return { cluster, count }
}
