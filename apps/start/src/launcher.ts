/**
 * The launcher behind `npm start` (main.ts builds the packages first, then loads this): checks
 * that every port is free, starts the chat, the ticket office and the
 * traffic light as child processes (apps never import each other), serves the
 * landing page, and prints every address. Ctrl-C or SIGTERM stops everything:
 * each app's process group gets SIGTERM (SIGKILL after 5 s) and is waited for.
 * If the launcher dies without stopping them (SIGKILL), each app sees its stdin pipe
 * from the launcher close and stops by itself (`Child.command`'s `exitWithParent`).
 */
import * as fs from "node:fs"
import { Child, Host, Main, Serve } from "@weft/app"
import { Effect, Scope } from "effect"
import * as Apps from "./apps.ts"
import { type Options, UsageError } from "./cli.ts"
import * as Landing from "./landing.ts"
import { checkFree } from "./ports.ts"

/**
 * Ends when this process's parent is gone. `npm start` runs this under npm,
 * which dies on SIGTERM without passing it on: the launcher, reparented, then
 * stops everything itself instead of leaving the apps running. npm gives its
 * script no pipe whose closing would say so, hence the look at `ppid` twice a
 * second; the apps below need no such look (their stdin pipe from here closes).
 */
const orphaned: Effect.Effect<void> = Effect.suspend(() => {
  const parent = process.ppid
  return Effect.sleep("500 millis").pipe(
    Effect.repeat({ until: () => process.ppid !== parent }),
    Effect.andThen(Effect.sync(() => console.error("npm start: the parent process is gone (npm was stopped); stopping everything")))
  )
})

const program = (root: string, options: Options) =>
  Effect.gen(function*() {
    yield* checkFree([
      { port: options.port, purpose: "the landing page", flag: "port" },
      { port: options.chatPort, purpose: "the chat for nc", flag: "chat-port" },
      { port: options.ircPort, purpose: "the chat for IRC", flag: "irc-port" },
      { port: options.chatHttpPort, purpose: "the chat's web page", flag: "chat-http-port" },
      { port: options.ticketsPort, purpose: "the ticket office", flag: "tickets-port" },
      { port: options.trafficPort, purpose: "the traffic light", flag: "traffic-port" }
    ], options.host)
    fs.mkdirSync(options.data, { recursive: true })

    // The apps stop together (in parallel) when the program's scope closes.
    const appsScope = yield* Scope.fork(yield* Effect.scope, "parallel")
    let started = false
    const print = (name: string) => (line: string) => {
      if (started) console.log(`[${name}] ${line}`)
    }
    const withIrc = yield* Apps.chatKnowsIrc(root)
    const apps = yield* Effect.all([
      Apps.start(root, Apps.chatSpec(options, withIrc), print("chat")),
      Apps.start(root, Apps.ticketsSpec(root, options), print("tickets")),
      Apps.start(root, Apps.trafficSpec(options), print("traffic"))
    ], { concurrency: "unbounded" }).pipe(Scope.provide(appsScope))
    const landing = yield* Serve.serve(Landing.makeApp(apps, { host: options.host, publicHost: options.publicHost }), {
      port: options.port,
      hostname: options.host
    })

    const width = 16
    const lines = [
      // Where users reach it: a wildcard bind is named by this machine's host name, or --public-host.
      `${"landing page".padEnd(width)}${Host.url(Host.shown(options.host, options.publicHost), landing.port)}`,
      ...apps.flatMap((app) =>
        app.addresses.map((a) => `${a.label.padEnd(width)}${a.url.startsWith("http") ? a.url : a.hint}${a.note ? `   (${a.note})` : ""}`)
      )
    ]
    console.log(`\nWeft is running:\n${lines.map((line) => `  ${line}`).join("\n")}\n\nCtrl-C stops everything.\n`)
    started = true
    yield* Effect.forEach(apps, (app) =>
      Effect.forkScoped(Effect.flatMap(app.exited, (code) =>
        Effect.sync(() => console.error(`[${app.name}] exited with code ${code}; the others keep running (the landing page shows it down)`))
      )), { discard: true })
    return yield* orphaned
  }).pipe(Effect.scoped, Effect.provide(Child.layer))

/**
 * Runs the launcher for the repository at `root` until Ctrl-C, SIGTERM or SIGHUP (see the module doc).
 *
 * @example
 * ```ts
 * launch("/repo", parse(["--port", "0"], "/repo") as Options)
 * ```
 */
export const launch = (root: string, options: Options): void => {
  const checked = checkHosts(options)
  if (checked instanceof UsageError) {
    console.error(`npm start: ${checked.message}\n(npm start -- --help lists the options)`)
    process.exitCode = 2
    return
  }
  Main.runMain(program(root, checked), { name: "npm start" })
}

/**
 * `--host` (an IPv4 or IPv6 address) and `--public-host` (a name or an
 * address), checked and in canonical form, or the `UsageError` naming the
 * flag. Done here rather than in `cli.ts`, which must import nothing built.
 *
 * @example
 * ```ts
 * checkHosts({ ...options, host: "example.org" }) // UsageError: --host: "example.org" is not an IPv4 or IPv6 address ...
 * ```
 */
export const checkHosts = (options: Options): Options | UsageError => {
  const host = Host.parse(options.host)
  if (host instanceof Host.HostError) return new UsageError({ message: host.message })
  const publicHost = options.publicHost === undefined ? undefined : Host.parsePublic(options.publicHost)
  if (publicHost instanceof Host.HostError) return new UsageError({ message: publicHost.message })
  return { ...options, host, publicHost }
}
