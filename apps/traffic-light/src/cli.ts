/**
 * The command line: `--scope fiber|thread|process --cars 5 --green 2s --red 3s
 * --duration 10s` (every flag optional), or `serve --host 127.0.0.1 --port 0`.
 * A bad flag is a `UsageError` that names the flag and what was wrong.
 */
import { parseArgs } from "node:util"
import * as Host from "@weft/app/Host"
import { Data } from "effect"
import { type Config, type ScopeName, scopes } from "./scopes.ts"

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export const maxCars = 50

export const usage = `usage: traffic-light [--scope fiber|thread|process] [--cars N] [--green D] [--red D] [--duration D]
       traffic-light serve [--host 127.0.0.1] [--public-host NAME] [--port P]

  --scope     where the cars run: fibers (Event), worker threads (SharedEvent)
              or child processes (a Manager's event)            default: fiber
  --cars      how many cars (1 to 50), arriving evenly spread    default: 5
  --green     how long the light stays green                     default: 2s
  --red       how long the light stays red (it starts red)       default: 3s
  --duration  how long the light runs                            default: 10s

  D is a duration: 500ms, 2s, 1.5s or 1m.

  serve       the live page on http://127.0.0.1:P (--port 0, the default: a free
              one): start runs at any scope from a form, watch the light and the
              cars over Server-Sent Events
  --host      the address to listen on: any IPv4 or IPv6 address, 0.0.0.0 or ::
              for every interface                               default: 127.0.0.1
  --public-host  the name users reach it by (printed, and accepted as Host);
              a wildcard --host prints this machine's host name`

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
 * Reads the flags (`argv` without the runtime and script) into a `Config`, or
 * says what was wrong, naming each flag with `label`.
 */
export const parse = (argv: ReadonlyArray<string>, label: Label = flagLabel): Config | UsageError | "help" => {
  let values: { [K in keyof typeof defaults]?: string | undefined } & { help?: boolean | undefined }
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
        help: { type: "boolean", short: "h" }
      }
    }).values
  } catch (error) {
    return new UsageError({ message: error instanceof Error ? error.message : String(error) })
  }
  if (values.help) return "help"
  const scope = values.scope ?? defaults.scope
  if (!scopes.includes(scope as ScopeName)) {
    return new UsageError({ message: `${label("scope")}: "${scope}" is not a scope (use fiber, thread or process)` })
  }
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
  return { scope: scope as ScopeName, cars, green, red, duration }
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
}

/**
 * `serve`'s flags (`argv` after `serve`): the port, 0 (a free one) unless
 * told; the address, 127.0.0.1 unless told; the public name, if any.
 *
 * @example
 * ```ts
 * parseServe(["--port", "8083"]) // { port: 8083, host: "127.0.0.1", publicHost: undefined }
 * ```
 */
export const parseServe = (argv: ReadonlyArray<string>): ServeOptions | UsageError | "help" => {
  let values: { port?: string | undefined; host?: string | undefined; "public-host"?: string | undefined; help?: boolean | undefined }
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { port: { type: "string" }, host: { type: "string" }, "public-host": { type: "string" }, help: { type: "boolean", short: "h" } }
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
  return { port, host, publicHost }
}
