/**
 * The command line of the primary: options, start-up lines, signals.
 *
 * @example
 * main(["--port", "0", "--irc-port", "0", "--http-port", "0", "--workers", "2"])
 */
import * as os from "node:os"
import { parseArgs } from "node:util"
import * as Host from "@weft/app/Host"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Parent from "@weft/app/Parent"
import { SERVER } from "./irc.ts"
import { hashPassword, parseOpers } from "./oper.ts"
import { runPrimary } from "./primary.ts"
import { DEFAULT_MAX_LINE } from "./protocol.ts"

/** The usage text printed with a bad option. @example console.error(usage) */
export const usage = `usage: [--host 127.0.0.1] [--public-host NAME] [--port 0] [--irc-port 6667] [--http-port 0] [--workers N] [--max-line BYTES]
  --host         the address to listen on: any IPv4 or IPv6 address, 0.0.0.0 or :: for every
                 interface (default 127.0.0.1: loopback only)
  --public-host  the name users reach the chat by: printed, and accepted in the web side's
                 Host header (a wildcard --host prints this machine's host name)
  --port         the plain chat's TCP port (default 0: a free one, printed)
  --irc-port     the IRC port (default 6667; 0: a free one)
  --http-port    the HTTP side: the web chat at /, GET /stats, /health, /metrics (default 0)
  --workers      worker processes sharing the chat ports (default: CPU count, at most 4)
  --max-line     longest accepted plain line in bytes (default ${DEFAULT_MAX_LINE}; IRC lines are 512)
  --quiet-above  rooms bigger than this get no join/part/quit/rename notices (default 50)
  --flood-burst  lines a client may send at once before pacing starts (default 200)
  --flood-rate   lines per second processed past the burst (default 200)
  --idle         seconds of silence before an IRC client is pinged, and then dropped (default 120)
  --server-name  the IRC server's name in every server line (default weft.chat)
  --oper         NAME:HASH, a server operator for IRC's OPER (repeatable; HASH from: node src/main.ts hash-password)
  --password     a password every IRC client must give with PASS (default: none)
  --cluster      postgres://URL (or WEFT_CLUSTER_URL): every instance started with the same URL,
                 on any machine, is one chat (default: this machine alone is the chat)`

class UsageError extends Error {}

/**
 * Runs the primary: parses `argv`, starts everything, prints the addresses, and
 * stops cleanly on SIGINT/SIGTERM/SIGHUP, or when the parent that asked for it is gone (exit 0); a bad option exits 2, a start-up failure 1.
 *
 * @example
 * main(["--port", "0", "--irc-port", "0", "--workers", "2"])
 */
export const main = (argv: ReadonlyArray<string>): void => {
  if (argv[0] === "hash-password") return hashFromStdin()
  const options = (() => {
    try {
      return parseArgs({
        args: [...argv],
        options: {
          host: { type: "string" },
          "public-host": { type: "string" },
          port: { type: "string" },
          "irc-port": { type: "string" },
          "http-port": { type: "string" },
          workers: { type: "string" },
          "max-line": { type: "string" },
          "quiet-above": { type: "string" },
          "flood-burst": { type: "string" },
          "flood-rate": { type: "string" },
          idle: { type: "string" },
          "server-name": { type: "string" },
          oper: { type: "string", multiple: true },
          password: { type: "string" },
          cluster: { type: "string" }
        },
        strict: true,
        allowPositionals: false
      }).values
    } catch (error) {
      console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
      process.exit(2)
    }
  })()

  const int = (name: Exclude<keyof typeof options, "oper" | "cluster">, fallback: number, min: number, max: number): number => {
    const raw = options[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max || (!Number.isSafeInteger(value) && name !== "idle")) {
      throw new UsageError(`--${name} must be ${name === "idle" ? "a number" : "an integer"} from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    }
    return value
  }

  const program = Effect.gen(function*() {
    const host = Host.parse(options.host ?? Host.loopback)
    if (host instanceof Host.HostError) return yield* Effect.fail(new UsageError(host.message))
    const publicHost = options["public-host"] === undefined ? undefined : Host.parsePublic(options["public-host"])
    if (publicHost instanceof Host.HostError) return yield* Effect.fail(new UsageError(publicHost.message))
    const serverName = options["server-name"] ?? SERVER
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(serverName)) {
      return yield* Effect.fail(new UsageError(`--server-name must be a host name (letters, digits, . and -), got ${JSON.stringify(serverName)}`))
    }
    const opers = yield* Effect.try({ try: () => parseOpers(options.oper ?? []), catch: (e) => new UsageError((e as Error).message) })
    if (options.password !== undefined && !/^[\x21-\x7e]{1,64}$/.test(options.password)) {
      return yield* Effect.fail(new UsageError("--password must be 1-64 printable characters without spaces"))
    }
    const cluster = options.cluster ?? (process.env.WEFT_CLUSTER_URL || undefined)
    if (cluster !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(cluster)) {
      return yield* Effect.fail(new UsageError(`--cluster must be a postgres:// URL, got ${JSON.stringify(cluster.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@"))}`))
    }
    const workers = int("workers", Math.min(4, Math.max(1, os.availableParallelism())), 1, 64)
    const { port, ircPort, httpPort } = yield* runPrimary({
      host,
      publicHost,
      port: int("port", 0, 0, 65535),
      ircPort: int("irc-port", 6667, 0, 65535),
      httpPort: int("http-port", 0, 0, 65535),
      workers,
      maxLine: int("max-line", DEFAULT_MAX_LINE, 16, 1024 * 1024),
      quietAbove: int("quiet-above", 50, 0, 1_000_000),
      floodBurst: int("flood-burst", 200, 1, 1_000_000),
      floodRate: int("flood-rate", 200, 1, 1_000_000),
      idleMs: int("idle", 120, 0.1, 86_400) * 1000,
      serverName,
      opers: [...opers],
      password: options.password,
      cluster,
      log: (line) => console.log(line)
    })
    // Where users reach it: a wildcard bind is named by this machine's host name, or --public-host.
    const shown = Host.shown(host, publicHost)
    console.log(`chat: tcp ${Host.authority(shown, port)}, ${workers} workers (try: nc ${shown} ${port})`)
    console.log(`irc: irc ${Host.authority(shown, ircPort)} (try: irssi, /connect ${shown} ${ircPort})`)
    console.log(`http: ${Host.url(shown, httpPort)} (the web chat; GET /stats, /health, /metrics)`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

  // Started by `npm start`: stop when it is gone, however it died (its stdin pipe closes).
  const parentGone = Parent.watch() // read before the workers are forked: theirs is not the pipe
  const fiber = Effect.runFork(Effect.raceFirst(program, parentGone))
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    Effect.runFork(Fiber.interrupt(fiber))
  }
  // `on`, not `once`: on Deno, removing the last listener restores the default action mid-shutdown.
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
  process.on("SIGHUP", stop)
  Effect.runPromise(Fiber.await(fiber)).then((exit) => {
    if (exit._tag === "Success") process.exit(0)
    if (exit.cause.reasons.every((r) => r._tag === "Interrupt")) {
      console.log("stopped")
      process.exit(0)
    }
    const error = Cause.squash(exit.cause)
    if (error instanceof Parent.ParentGone) process.exit(0)
    if (error instanceof UsageError) console.error(`${error.message}\n${usage}`)
    else console.error(error instanceof Error ? error.message : String(error))
    process.exit(error instanceof UsageError ? 2 : 1)
  })
}

/** `hash-password`: reads a password on stdin (not the command line, which others can see) and prints its hash for `--oper`. */
const hashFromStdin = (): void => {
  let input = ""
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (chunk: string) => void (input += chunk))
  process.stdin.on("end", () => {
    const password = input.replace(/\r?\n$/, "")
    if (password === "") {
      console.error("hash-password: give the password on stdin, e.g. echo secret | node src/main.ts hash-password")
      process.exit(2)
    }
    console.log(hashPassword(password))
    process.exit(0)
  })
}
