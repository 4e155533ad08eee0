// serve --workers N: its cluster workers never outlive the primary, however it dies.
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { aliveSame, processIdentity, procAvailable } from "@weft/testkit"
import { child, mainScript, tempDir } from "./helpers.ts"

const bindable = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(true))))
  })

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
        const ids = pids.map(processIdentity)
        yield* Effect.addFinalizer(() => Effect.sync(() => ids.filter(aliveSame).forEach((id) => process.kill(id!.pid, "SIGKILL"))))
        process.kill(server.proc.pid!, "SIGKILL")
        // They notice their IPC channel to the primary close (node:cluster's 'disconnect').
        for (let i = 0; i < 200 && ids.some(aliveSame); i++) yield* Effect.sleep("50 millis")
        assert.deepStrictEqual(ids.filter(aliveSame), [], "every worker gone within 10 s")
        assert.isTrue(yield* bindable(port), `port ${port} free`)
      })),
    60_000
  )
})
