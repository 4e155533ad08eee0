/**
 * Test helpers: the chat server as a real child process (run with the
 * current runtime, stopped when the test's scope closes, every worker pid it
 * printed killed too), and line-reading TCP clients on node:net.
 */
import type { ChildProcess } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import { argv as commandLine, type Child, child, exists, waitUntil } from "@weft/testkit"

export const mainScript = fileURLToPath(new URL("../src/main.ts", import.meta.url))

export { exists as isAlive }

export interface Server {
  readonly proc: ChildProcess
  readonly port: number
  readonly ircPort: number
  /** `http://127.0.0.1:PORT` of the web side. */
  readonly http: string
  /** The three address lines as printed. */
  readonly printed: { readonly chat: string; readonly irc: string; readonly http: string }
  readonly output: () => string
  /** Worker pids printed so far ("worker N pid P listening"). */
  readonly workerPids: () => Array<number>
  /** Waits for a line of output containing `text`. */
  line(text: string, timeoutMs?: number): Effect.Effect<string, Error>
  /** Waits for the exit: the code or the signal's name. */
  exited(timeoutMs?: number): Effect.Effect<number | string, Error>
}

/** Where a server runs: `ns`, a test-bed machine's network namespace (the server then listens on `host`, its front address). */
export interface Where {
  readonly ns?: string | undefined
  readonly host?: string | undefined
  /** Added to its environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
}

export const startServer = (args: ReadonlyArray<string> = ["--workers", "2"], where: Where = {}): Effect.Effect<Server, Error, Scope.Scope> =>
  Effect.gen(function*() {
    let started: Child | undefined
    const workerPids = () => [...(started?.output() ?? "").matchAll(/worker \d+ pid (\d+) listening/g)].map((m) => Number(m[1]))
    // Belt and braces, after the primary's stop below: no worker outlives the test, whatever the primary did.
    yield* Effect.addFinalizer(() => Effect.sync(() => workerPids().filter(exists).forEach((pid) => process.kill(pid, "SIGKILL"))))
    const argv = ["--port", "0", "--irc-port", "0", "--http-port", "0", ...(where.host === undefined ? [] : ["--host", where.host]), ...args]
    const command = where.ns === undefined ? undefined : ["ip", "netns", "exec", where.ns, ...commandLine(mainScript, argv)] as const
    const c = started = yield* child(mainScript, argv, {
      name: "server",
      stdin: "ignore",
      lines: "both",
      stop: { signal: "SIGTERM", graceMs: 8_000 },
      ...(command === undefined ? {} : { command }),
      ...(where.env === undefined ? {} : { env: where.env })
    })
    const server = {
      proc: c.proc,
      output: c.output,
      workerPids,
      line: (text: string, timeoutMs?: number) => c.line(text, timeoutMs),
      exited: (timeoutMs = 10_000) =>
        waitUntil(c.running.subscribe, () => {
          const exit = c.running.exit()
          return exit === undefined ? undefined : exit.code ?? exit.signal ?? "unknown"
        }, timeoutMs, () => `the server did not exit; output:\n${c.output()}`)
    }
    // The printed host is the --host (or, for a wildcard, the host name or --public-host); tests
    // connect through 127.0.0.1 whatever it is.
    const chat = yield* server.line("chat: tcp ")
    const irc = yield* server.line("irc: irc ")
    const http = yield* server.line("http: http://")
    return {
      ...server,
      printed: { chat, irc, http },
      port: Number(/tcp \S+:(\d+),/.exec(chat)![1]),
      ircPort: Number(/irc \S+:(\d+) /.exec(irc)![1]),
      http: `http://${where.host ?? "127.0.0.1"}:${/http:\/\/\S+:(\d+) /.exec(http)![1]}`
    }
  })

export interface Client {
  readonly socket: net.Socket
  /** Worker id and pid from the welcome line. */
  readonly worker: number
  readonly pid: number
  readonly nick: string
  /** Every line received so far. */
  readonly lines: () => Array<string>
  readonly closed: () => boolean
  write(data: string | Uint8Array): Effect.Effect<void>
  /** Waits until `count` received lines match `predicate` (default 1); returns them. */
  waitFor(predicate: (line: string) => boolean, count?: number, timeoutMs?: number): Effect.Effect<Array<string>, Error>
  waitClosed(timeoutMs?: number): Effect.Effect<void, Error>
}

/** A line client that does not wait for anything (IRC, or a raw look at the plain side). */
export interface RawClient {
  readonly socket: net.Socket
  /** Every line received so far (a trailing \r removed). */
  readonly lines: () => Array<string>
  readonly closed: () => boolean
  write(data: string | Uint8Array): Effect.Effect<void>
  waitFor(predicate: (line: string) => boolean, count?: number, timeoutMs?: number): Effect.Effect<Array<string>, Error>
  waitClosed(timeoutMs?: number): Effect.Effect<void, Error>
}

export const connectRaw = (port: number, host = "127.0.0.1"): Effect.Effect<RawClient, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* Effect.acquireRelease(
      Effect.callback<{ socket: net.Socket; lines: Array<string>; listeners: Set<() => void>; closed: { value: boolean } }, Error>((resume) => {
        const socket = net.connect(port, host)
        const lines: Array<string> = []
        const listeners = new Set<() => void>()
        const closed = { value: false }
        let buffer = ""
        socket.setEncoding("utf8")
        socket.setNoDelay(true)
        const notify = () => {
          for (const f of [...listeners]) f()
        }
        socket.on("data", (chunk: string) => {
          buffer += chunk
          let nl: number
          while ((nl = buffer.indexOf("\n")) !== -1) {
            lines.push(buffer.slice(0, buffer[nl - 1] === "\r" ? nl - 1 : nl))
            buffer = buffer.slice(nl + 1)
          }
          notify()
        })
        socket.on("close", () => {
          closed.value = true
          notify()
        })
        socket.once("error", (error) => resume(Effect.fail(error)))
        socket.once("connect", () => {
          socket.on("error", () => {})
          resume(Effect.succeed({ socket, lines, listeners, closed }))
        })
        return Effect.sync(() => socket.destroy())
      }).pipe(Effect.timeout("5 seconds"), Effect.mapError((e) => new Error(`connect to ${host}:${port}: ${String(e)}`))),
      (s) => Effect.sync(() => s.socket.destroy())
    )
    const subscribe = (check: () => void) => {
      state.listeners.add(check)
      return () => void state.listeners.delete(check)
    }
    const waitFor = (predicate: (line: string) => boolean, count = 1, timeoutMs = 10_000) =>
      waitUntil(subscribe, () => {
        const found = state.lines.filter(predicate)
        return found.length >= count ? found : undefined
      }, timeoutMs, () => `wanted ${count} matching lines; got:\n${state.lines.join("\n")}`)
    return {
      socket: state.socket,
      lines: () => [...state.lines],
      closed: () => state.closed.value,
      write: (data) => Effect.sync(() => void state.socket.write(data)),
      waitFor,
      waitClosed: (timeoutMs = 10_000) =>
        waitUntil(subscribe, () => state.closed.value ? true : undefined, timeoutMs, () => "the connection did not close").pipe(Effect.asVoid)
    }
  })

export const connect = (port: number, host?: string): Effect.Effect<Client, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const raw = yield* connectRaw(port, host)
    const [welcome] = yield* raw.waitFor((l) => l.startsWith("* welcome "))
    const m = /^\* welcome (\S+): worker (\d+) \(pid (\d+)\)/.exec(welcome!)!
    return { ...raw, nick: m[1]!, worker: Number(m[2]), pid: Number(m[3]) }
  })

/** An IRC connection registered as `nick`, in #lobby (it joined, as IRC users are not put anywhere). */
export const connectIrc = (port: number, nick: string, join = "#lobby", host?: string): Effect.Effect<RawClient, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const raw = yield* connectRaw(port, host)
    yield* raw.write(`CAP LS 302\r\nNICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\nCAP END\r\n${join === "" ? "" : `JOIN ${join}\r\n`}`)
    yield* raw.waitFor((l) => l.includes(` 001 ${nick} :Welcome`))
    if (join !== "") yield* raw.waitFor((l) => l === `:${nick}!${nick}@weft JOIN ${join}`)
    return raw
  })

/** Connects clients until `perWorker` of them sit on each of `workers` distinct workers (bounded tries). */
export const connectSpread = (port: number, workers: number, perWorker: number) =>
  Effect.gen(function*() {
    const byWorker = new Map<number, Array<Client>>()
    for (let i = 0; i < workers * perWorker * 4; i++) {
      const client = yield* connect(port)
      const list = byWorker.get(client.worker) ?? []
      if (list.length < perWorker) list.push(client)
      else client.socket.destroy()
      byWorker.set(client.worker, list)
      const full = [...byWorker.values()].filter((l) => l.length >= perWorker)
      if (full.length >= workers) return full.slice(0, workers).flat()
    }
    return yield* Effect.fail(new Error(`clients did not spread over ${workers} workers: ${JSON.stringify([...byWorker].map(([w, l]) => [w, l.length]))}`))
  })

export const getJson = (url: string) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) })
      return { status: response.status, body: await response.json() as Record<string, unknown> }
    },
    catch: (error) => new Error(`GET ${url}: ${String(error)}${(error as Error).cause === undefined ? "" : ` (${String((error as Error).cause)})`}`)
  })

/** Polls `effect` every 50 ms until `done` holds for its value; bounded. */
export const poll = <A, E>(effect: Effect.Effect<A, E>, done: (a: A) => boolean, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = yield* effect
      if (done(value)) return value
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(value)}`))
      yield* Effect.sleep("50 millis")
    }
  })
