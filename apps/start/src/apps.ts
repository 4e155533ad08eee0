/**
 * The three apps as child processes, on the runtime running `npm start`
 * (`@weft/app`'s `Child.command`: Deno gets `run -A`). Apps never import each
 * other; this launcher only knows their command lines and the lines they
 * print once they listen:
 *
 * - chat: `apps/chat-server/src/main.ts --port P [--irc-port P] --http-port P --workers N`,
 *   prints `tcp HOST:PORT`, (`irc HOST:PORT`), then `http: http://HOST:PORT`;
 * - tickets: `apps/ticketing/src/main.ts serve --port P --file PATH --workers N`,
 *   prints `serving http://HOST:PORT`;
 * - traffic light: `apps/traffic-light/src/main.ts serve --port P`, prints
 *   `serving http://HOST:PORT`.
 *
 * Each also gets `--host` and `--public-host` when they are not the defaults.
 * With `--cluster URL`, all three run on that PostgreSQL server: the chat gets
 * `--cluster URL`, the ticket office `serve --store URL --tickets 100` (instead
 * of its file; the stock applies to a new store only), the traffic light
 * `serve --scope cluster --cluster URL`.
 *
 * Each child is in a `Scope`: closing it sends SIGTERM to the child's process
 * group (its cluster workers or pool processes too), then SIGKILL after 5 s,
 * and waits for them to exit. Each also gets a stdin pipe from the launcher
 * (`exitWithParent`): if the launcher dies without closing the scope (SIGKILL),
 * the pipe closes and the app stops by itself, its workers with it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Child, Host } from "@weft/app"
import { Data, Deferred, Effect, Fiber, Option, type Scope, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import type { Options } from "./cli.ts"

/**
 * Where one app answers, as it printed it.
 *
 * @example
 * ```ts
 * const nc: Address = { label: "chat (nc)", url: "tcp://127.0.0.1:7000", hint: "nc 127.0.0.1 7000" }
 * ```
 */
export interface Address {
  /** What it is, e.g. "chat (nc)". */
  readonly label: string
  /** `http://127.0.0.1:8081`, or `tcp://127.0.0.1:7000` for a line protocol. */
  readonly url: string
  /** How to use it from a shell, e.g. `nc 127.0.0.1 7000`. */
  readonly hint?: string | undefined
  /** Said after the hint in the terminal. */
  readonly note?: string | undefined
  /** For HTTP: the path that says whether it is up (`/health`); for TCP: none (a connect). */
  readonly health?: ReadonlyArray<string> | undefined
  /** Where the launcher itself reaches an HTTP address (loopback for a wildcard bind); default `url`. */
  readonly local?: string | undefined
}

/**
 * One started app.
 *
 * @example
 * ```ts
 * const chat: Started = yield* start(root, chatSpec(options, true), console.log)
 * chat.addresses // web, nc, IRC
 * ```
 */
export interface Started {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly addresses: ReadonlyArray<Address>
  /** Completes (with the exit code) when the process exits. */
  readonly exited: Effect.Effect<number>
}

/**
 * An app did not come up; the message says which and shows what it printed.
 *
 * @example
 * ```ts
 * new AppStartError({ app: "Chat", reason: "it exited with code 1", output: "..." }).message
 * ```
 */
export class AppStartError extends Data.TaggedError("AppStartError")<{ readonly app: string; readonly reason: string; readonly output: string }> {
  override get message(): string {
    const tail = this.output.trim().split("\n").slice(-12).map((line) => `  | ${line}`).join("\n")
    return `${this.app} did not start: ${this.reason}${tail ? `\n${tail}` : ""}`
  }
}

interface Spec {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly script: string
  readonly args: ReadonlyArray<string>
  /** Reads the addresses from what the app printed so far, once it has printed them all. */
  readonly addresses: (output: string) => ReadonlyArray<Address> | undefined
}

const port = (output: string, pattern: RegExp): number | undefined => {
  const match = pattern.exec(output)
  return match ? Number(match[1]) : undefined
}

/**
 * `--host` and `--public-host` for an app, when they are not the defaults
 * (so an app of old, with no `--host`, still starts on loopback).
 */
const hostArgs = (options: Options): Array<string> => [
  ...(options.host === Host.loopback ? [] : ["--host", options.host]),
  ...(options.publicHost === undefined ? [] : ["--public-host", options.publicHost])
]

/** An HTTP address on `port`: shown by the name users reach it by, probed through this machine's own way in. */
const web = (options: Options, label: string, port: number, health: ReadonlyArray<string>): Address => ({
  label,
  url: Host.url(Host.shown(options.host, options.publicHost), port),
  local: Host.url(Host.local(options.host), port),
  health
})

/**
 * The chat's command line; `--irc-port` only if its usage text knows it (older chats did not).
 *
 * @example
 * ```ts
 * chatSpec(options, true).args // ["--port", "7000", "--irc-port", "6667", "--http-port", "8081", "--workers", "2"]
 * ```
 */
export const chatSpec = (options: Options, withIrc: boolean): Spec => ({
  name: "chat",
  title: "Chat",
  description: "One chat for nc, IRC clients and the browser: same rooms, same nicks.",
  script: "apps/chat-server/src/main.ts",
  args: [
    "--port", String(options.chatPort),
    ...(withIrc ? ["--irc-port", String(options.ircPort)] : []),
    "--http-port", String(options.chatHttpPort),
    "--workers", String(options.workers),
    ...hostArgs(options),
    ...(options.cluster === undefined ? [] : ["--cluster", options.cluster])
  ],
  addresses: (output) => {
    // The printed host is --host, or a wildcard's host name or --public-host: only the ports are read.
    const http = port(output, /^http: http:\/\/\S+:(\d+)/m)
    const tcp = port(output, /\btcp \S+:(\d+)/)
    if (http === undefined || tcp === undefined) return undefined
    const irc = port(output, /\birc \S+:(\d+)/)
    const shown = Host.shown(options.host, options.publicHost)
    return [
      web(options, "chat (web)", http, ["/health"]),
      { label: "chat (nc)", url: Host.url(shown, tcp, "tcp"), hint: `nc ${shown} ${tcp}` },
      ...(irc === undefined ? [] : [{
        label: "chat (IRC)",
        url: Host.url(shown, irc, "tcp"),
        hint: `irssi -c ${shown} -p ${irc}`,
        note: `or /connect ${shown} ${irc} in any IRC client`
      }])
    ]
  }
})

/**
 * The ticket office on `data/tickets.json`; a new store starts with 100 tickets, an old one keeps its sales.
 *
 * @example
 * ```ts
 * ticketsSpec(root, options).args // ["serve", "--port", "8082", "--file", "/repo/data/tickets.json", "--workers", "2", ...]
 * ```
 */
export const ticketsSpec = (root: string, options: Options): Spec => {
  const file = path.join(options.data, "tickets.json")
  const shown = file.startsWith(root + path.sep) ? path.relative(root, file) : file
  return {
    name: "tickets",
    title: "Ticket office",
    description: options.cluster === undefined
      ? `Buy a seat: never oversold, every confirmed order on disk (${shown}).`
      : "Buy a seat: never oversold, one stock for every machine on the cluster.",
    script: "apps/ticketing/src/main.ts",
    args: [
      "serve",
      "--port", String(options.ticketsPort),
      // On a cluster: the shared store; a new one gets 100 tickets, one in use keeps its sale.
      ...(options.cluster === undefined
        ? ["--file", file, ...(fs.existsSync(file) ? [] : ["--tickets", "100"])]
        : ["--store", options.cluster, "--tickets", "100"]),
      "--workers", String(options.workers),
      ...hostArgs(options)
    ],
    addresses: (output) => {
      const http = port(output, /serving http:\/\/\S+:(\d+)/)
      // Older ticket offices have no /health: their /tickets says as much.
      return http === undefined ? undefined : [web(options, "tickets", http, ["/health", "/tickets"])]
    }
  }
}

/**
 * The traffic light's live page.
 *
 * @example
 * ```ts
 * trafficSpec(options).args // ["serve", "--port", "8083"]
 * ```
 */
export const trafficSpec = (options: Options): Spec => ({
  name: "traffic",
  title: "Traffic light",
  description: options.cluster === undefined
    ? "One Event simulation at fiber, thread or process scope, live."
    : "One Event simulation on the cluster: cars of other machines join its runs.",
  script: "apps/traffic-light/src/main.ts",
  args: [
    "serve",
    "--port", String(options.trafficPort),
    ...hostArgs(options),
    ...(options.cluster === undefined ? [] : ["--scope", "cluster", "--cluster", options.cluster])
  ],
  addresses: (output) => {
    const http = port(output, /serving http:\/\/\S+:(\d+)/)
    return http === undefined ? undefined : [web(options, "traffic light", http, ["/health"])]
  }
})

/**
 * Whether the chat's usage text mentions `--irc-port` (it prints usage on an unknown flag).
 *
 * @example
 * ```ts
 * const withIrc = yield* chatKnowsIrc(root)
 * ```
 */
export const chatKnowsIrc = (root: string): Effect.Effect<boolean, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const text = yield* spawner.string(
      Child.command(path.join(root, "apps/chat-server/src/main.ts"), ["--help"], { cwd: root, stderr: "pipe" }),
      { includeStderr: true }
    ).pipe(Effect.timeoutOption(30_000), Effect.orElseSucceed(() => Option.none<string>()))
    return Option.isSome(text) && text.value.includes("--irc-port")
  })

/** How long an app may take to print its addresses (loading, building its workers). */
const startupTimeout = 60_000

/**
 * Starts one app in the scope and waits until it printed its addresses.
 *
 * @example
 * ```ts
 * const traffic = yield* start(root, trafficSpec(options), (line) => console.log(`[traffic] ${line}`))
 * ```
 *
 * `print` gets every line it prints, as it prints it.
 */
export const start = (
  root: string,
  spec: Spec,
  print: (line: string) => void
): Effect.Effect<Started, AppStartError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const failed = (reason: string) => new AppStartError({ app: spec.title, reason, output })
    let output = ""
    const handle = yield* spawner.spawn(
      Child.command(path.join(root, spec.script), spec.args, { cwd: root, stdout: "pipe", stderr: "pipe", exitWithParent: true })
    ).pipe(Effect.mapError((error) => failed(error.message)))
    const up = yield* Deferred.make<ReadonlyArray<Address>>()
    yield* handle.all.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) =>
        Effect.sync(() => {
          output += `${line}\n`
          print(line)
          const addresses = spec.addresses(output)
          if (addresses) Deferred.doneUnsafe(up, Effect.succeed(addresses))
        })
      ),
      Effect.ignore,
      Effect.forkScoped
    )
    const exit = yield* Effect.forkScoped(Effect.orElseSucceed(handle.exitCode, () => -1))
    const first = yield* Effect.raceFirst(
      Effect.map(Deferred.await(up), (addresses) => ({ _tag: "up" as const, addresses })),
      Effect.map(Fiber.join(exit), (code) => ({ _tag: "exited" as const, code }))
    ).pipe(Effect.timeoutOption(startupTimeout))
    if (Option.isNone(first)) return yield* failed(`it printed no address within ${startupTimeout / 1000}s`)
    if (first.value._tag === "exited") return yield* failed(`it exited with code ${first.value.code}`)
    return {
      name: spec.name,
      title: spec.title,
      description: spec.description,
      addresses: first.value.addresses,
      exited: Fiber.join(exit).pipe(Effect.map(Number))
    } satisfies Started
  })
