// However the launcher dies, nothing it started is left: not a process, not a port. Four
// launchers in a row on the same ports, each killed another way (SIGKILL, SIGHUP, SIGTERM,
// SIGINT): each next one starts on the ports the last one held, so "the next npm start works"
// is checked too. On Node the first is `npm start` itself, its whole process group SIGKILLed (as
// when a terminal's job is killed); elsewhere the launcher on that runtime.
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { Runtime } from "@weft/app"
import { commandLine, launch, marked, procAvailable, type Running } from "./processes.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const script = path.join(root, "apps/start/src/main.ts")
const mark = "WEFT_START_ORPHANS_TEST"
const flags = ["port", "chat-port", "irc-port", "chat-http-port", "tickets-port", "traffic-port"]
/** Generous for a loaded 2-core machine; gone within 0.1 to 0.3 s when idle. */
const GONE_MS = 10_000

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The ports a banner printed, in the order of `flags`. */
const portsOf = (banner: string): Array<number> => {
  const port = (pattern: RegExp) => Number(pattern.exec(banner)?.[1])
  return [
    port(/^ {2}landing page +http:\/\/127\.0\.0\.1:(\d+)/m),
    port(/^ {2}chat \(nc\) +nc 127\.0\.0\.1 (\d+)/m),
    port(/^ {2}chat \(IRC\) +irssi -c 127\.0\.0\.1 -p (\d+)/m),
    port(/^ {2}chat \(web\) +http:\/\/127\.0\.0\.1:(\d+)/m),
    port(/^ {2}tickets +http:\/\/127\.0\.0\.1:(\d+)/m),
    port(/^ {2}traffic light +http:\/\/127\.0\.0\.1:(\d+)/m)
  ]
}

const ways = [
  { signal: "SIGKILL", via: Runtime.current === "node" ? "npm" as const : "runtime" as const },
  { signal: "SIGHUP", via: "runtime" as const },
  { signal: "SIGTERM", via: "runtime" as const },
  { signal: "SIGINT", via: "runtime" as const }
] as const

describe.skipIf(!procAvailable)(`the launcher killed, four ways in a row on the same ports${procAvailable ? "" : " (skipped: no /proc to find what is left)"}`, () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "weft-start-orphans-"))
  let ports: Array<number> = flags.map(() => 0)
  let running: Running | undefined

  afterAll(() => {
    for (const pid of marked(mark, data)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {}
    }
    fs.rmSync(data, { recursive: true, force: true })
  })

  for (const { signal, via } of ways) {
    const who = via === "npm" ? "npm start's process group" : `the launcher (on ${Runtime.current})`
    it(`${who} gets ${signal}: every app process gone, every port free`, async () => {
      const args = [...flags.flatMap((flag, i) => [`--${flag}`, String(ports[i])]), "--workers", "1", "--no-build", "--data", data]
      // A launcher left by a failed run would hold the ports the next one wants.
      for (const pid of marked(mark, data)) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {}
      }
      running = launch(script, args, root, via, { [mark]: data }, { detached: via === "npm" })
      await running.waitFor(/^Ctrl-C stops everything\.$/, 100_000)
      const banner = running.stdout().slice(running.stdout().indexOf("Weft is running:"))
      ports = portsOf(banner)
      expect(ports.every((port) => port > 0), banner).toBe(true)
      const started = marked(mark, data)
      // The launcher, the chat and its worker, the ticket office (one worker: in its own process), the
      // traffic light. Found again below by their marker, not by pid: pids are reused on a busy machine.
      expect(started.length).toBeGreaterThanOrEqual(5)
      const pid = running.child.pid!
      process.kill(via === "npm" ? -pid : pid, signal)
      await waitUntil(`every process gone after ${signal}`, () => marked(mark, data).length === 0, GONE_MS).catch((error) => {
        const left = marked(mark, data).map((p) => `${p} ${commandLine(p)}`).join("\n")
        throw new Error(`${error.message}; left:\n${left}`)
      })
      for (const port of ports) expect(await bindable(port), `port ${port} free`).toBe(true)
      await running.exited
    }, 150_000)
  }
})
