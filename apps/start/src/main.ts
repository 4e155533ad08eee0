/**
 * `npm start` at the repository root: builds the packages if they need it,
 * checks that every port is free, starts the chat, the ticket office and the
 * traffic light as child processes (apps never import each other), serves the
 * landing page, and prints every address. Ctrl-C or SIGTERM stops everything:
 * each app's process group gets SIGTERM (SIGKILL after 5 s) and is waited for.
 *
 *   node apps/start/src/main.ts [--port 8080] [--chat-port 7000] ... (--help)
 *
 * Exit codes: 0 stopped by Ctrl-C / SIGTERM (or its parent, npm, died), 1
 * something did not start (a port taken, an app failed), 2 bad flags.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Child, Host, Main, Serve } from "@weft/app"
import { Data, Effect, Scope, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import * as Apps from "./apps.ts"
import { type Options, parse, UsageError, usage } from "./cli.ts"
import * as Landing from "./landing.ts"
import { checkFree } from "./ports.ts"

const root = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)))

/** The packages the apps import, built by `npm run build` (turbo) into `dist/`. */
const packages = ["packages/primitives", "packages/pools", "packages/app"]

const newest = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const full = path.join(dir, entry.name)
    return Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs)
  }, 0)

/** Packages whose `dist/` is missing or older than their `src/`. */
const stale = (): Array<string> =>
  packages.filter((dir) => {
    const src = path.join(root, dir, "src")
    const dist = path.join(root, dir, "dist")
    if (!fs.existsSync(src)) return false
    if (!fs.existsSync(dist)) return true
    return newest(src) > newest(dist)
  })

class BuildError extends Data.TaggedError("BuildError")<{ readonly output: string }> {
  override get message(): string {
    return `the build failed (npm run build):\n${this.output.trim().split("\n").slice(-20).join("\n")}`
  }
}

/** `turbo run build` for the stale packages (and what they depend on), output shown only if it fails. */
const build = (dirs: ReadonlyArray<string>): Effect.Effect<void, BuildError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    console.log(`building ${dirs.join(", ")} (turbo; cached after the first time)...`)
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const turbo = path.join(root, "node_modules", ".bin", "turbo")
    const args = ["run", "build", "--output-logs=errors-only", ...dirs.map((dir) => `--filter=./${dir}`)]
    const [output, code] = yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* spawner.spawn(Child.command(turbo, args, { cwd: root, stdout: "pipe", stderr: "pipe", env: { TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" }, extendEnv: true }))
      return yield* Effect.all([Stream.mkString(Stream.decodeText(handle.all)), handle.exitCode], { concurrency: 2 })
    })).pipe(Effect.mapError((error) => new BuildError({ output: error.message })))
    if (code !== 0) return yield* new BuildError({ output })
  })

/**
 * Ends when this process's parent is gone. `npm start` runs this under npm,
 * which dies on SIGTERM without passing it on: the launcher, reparented, then
 * stops everything itself instead of leaving the apps running.
 */
const orphaned: Effect.Effect<void> = Effect.suspend(() => {
  const parent = process.ppid
  return Effect.sleep("500 millis").pipe(
    Effect.repeat({ until: () => process.ppid !== parent }),
    Effect.andThen(Effect.sync(() => console.error("npm start: the parent process is gone (npm was stopped); stopping everything")))
  )
})

const program = (options: Options) =>
  Effect.gen(function*() {
    yield* checkFree([
      { port: options.port, purpose: "the landing page", flag: "port" },
      { port: options.chatPort, purpose: "the chat for nc", flag: "chat-port" },
      { port: options.ircPort, purpose: "the chat for IRC", flag: "irc-port" },
      { port: options.chatHttpPort, purpose: "the chat's web page", flag: "chat-http-port" },
      { port: options.ticketsPort, purpose: "the ticket office", flag: "tickets-port" },
      { port: options.trafficPort, purpose: "the traffic light", flag: "traffic-port" }
    ], options.host)
    if (options.build) {
      const dirs = stale()
      if (dirs.length > 0) yield* build(dirs)
    }
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

const options = parse(process.argv.slice(2), root)
if (options === "help") console.log(usage)
else if (options instanceof UsageError) {
  console.error(`npm start: ${options.message}\n(npm start -- --help lists the options)`)
  process.exitCode = 2
} else {
  Main.runMain(program(options), { name: "npm start" })
}
