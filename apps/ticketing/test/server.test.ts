// serve --workers N: its cluster workers never outlive the primary, however it dies.
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { child, mainScript, tempDir } from "./helpers.ts"

/**
 * When the process `pid` started (field 22 of /proc/PID/stat), if it runs and is not a zombie (an
 * orphan's zombie may wait for a reaper that never comes). With the pid it names one process,
 * even where pids are soon reused.
 */
const startTime = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[0] === "Z" ? undefined : fields[19]
  } catch {
    return undefined
  }
}
const bindable = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(true))))
  })
const procAvailable = fs.existsSync("/proc/self/stat")

describe("serve --workers N", () => {
  it.live.skipIf(!procAvailable)(
    `the primary SIGKILLed: every worker exits by itself, the port is free${procAvailable ? "" : " (skipped: no /proc)"}`,
    () =>
      Effect.scoped(Effect.gen(function*() {
        const file = path.join(yield* tempDir, "tickets.json")
        const server = yield* child(mainScript, ["serve", "--file", file, "--tickets", "5", "--workers", "3", "--port", "0"])
        const line = yield* server.line("serving http://127.0.0.1:", 30_000)
        const port = Number(/serving http:\/\/127\.0\.0\.1:(\d+)/.exec(line)![1])
        const pids = [...server.output().matchAll(/worker \d+ pid (\d+) listening/g)].map((m) => Number(m[1]))
        assert.strictEqual(pids.length, 3)
        const started = new Map(pids.map((pid) => [pid, startTime(pid)]))
        const running = (pid: number) => startTime(pid) !== undefined && startTime(pid) === started.get(pid)
        yield* Effect.addFinalizer(() => Effect.sync(() => pids.filter(running).forEach((pid) => process.kill(pid, "SIGKILL"))))
        process.kill(server.proc.pid!, "SIGKILL")
        // They notice their IPC channel to the primary close (node:cluster's 'disconnect').
        for (let i = 0; i < 200 && pids.some(running); i++) yield* Effect.sleep("50 millis")
        assert.deepStrictEqual(pids.filter(running), [], "every worker gone within 10 s")
        assert.isTrue(yield* bindable(port), `port ${port} free`)
      })),
    60_000
  )
})
