// serve --workers N under @weft/app's Inspector: whichever worker a request
// lands on, /inspect shows the primary and every worker, each labelled, and
// /metrics answers with Prometheus text.
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Hostile from "@weft/app/Hostile"
import { Effect } from "effect"
import { child, mainScript, tempDir } from "./helpers.ts"

describe("serve --workers N, inspected", () => {
  it.live("GET /inspect lists the primary and both workers; GET /metrics is Prometheus text; a foreign Host gets 421", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = path.join(yield* tempDir, "tickets.json")
      const server = yield* child(mainScript, ["serve", "--file", file, "--tickets", "5", "--workers", "2", "--port", "0"])
      const line = yield* server.line("serving http://127.0.0.1:", 30_000)
      const url = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
      // Each request may land on either worker; every one of them answers for all three processes.
      for (let i = 0; i < 4; i++) {
        const view = yield* Effect.promise(() => fetch(`${url}/inspect`).then((r) => r.json() as Promise<{ processes: Array<{ label: string }> }>))
        assert.deepStrictEqual(view.processes.map((p) => p.label).sort(), ["ticketing primary", "ticketing worker 1", "ticketing worker 2"])
      }
      const metrics = yield* Effect.promise(() => fetch(`${url}/metrics`))
      assert.include(metrics.headers.get("content-type") ?? "", "text/plain; version=0.0.4")
      yield* Effect.promise(() => metrics.text())
      const foreign = yield* Effect.promise(() => Hostile.request(`${url}/inspect`, { headers: { host: "evil.example" } }))
      assert.strictEqual(foreign.status, 421)
    })), 60_000)
})
