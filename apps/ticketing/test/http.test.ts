import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Http from "../src/http.ts"
import * as Store from "../src/store.ts"
import { child, count, mainScript, tempDir } from "./helpers.ts"

const call = (url: string, method = "GET", body?: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } })
    })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  })

describe("HTTP API (Hono on 127.0.0.1)", () => {
  it.live("GET /tickets, POST /buy until 409, POST /reset validated (400), a corrupt file is a 500 naming it", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)
      yield* store.reset(2)
      const { url, port } = yield* Http.serve(store)
      assert.isAbove(port, 0)
      assert.strictEqual(url, `http://127.0.0.1:${port}`)

      assert.deepStrictEqual(yield* call(`${url}/tickets`), { status: 200, body: { count: 2 } })
      assert.deepStrictEqual(yield* call(`${url}/buy`, "POST"), { status: 200, body: { ok: true, left: 1 } })
      assert.deepStrictEqual(yield* call(`${url}/buy`, "POST"), { status: 200, body: { ok: true, left: 0 } })
      assert.deepStrictEqual(yield* call(`${url}/buy`, "POST"), { status: 409, body: { ok: false, error: "sold out", left: 0 } })

      for (const bad of ["{\"count\": -1}", "{\"count\": 1.5}", "{\"count\": \"3\"}", "{}", "[]", "null"]) {
        const r = yield* call(`${url}/reset`, "POST", bad)
        assert.strictEqual(r.status, 400, bad)
        assert.include(String(r.body.error), "count must be a non-negative integer", bad)
      }
      const notJson = yield* call(`${url}/reset`, "POST", "{count: 3")
      assert.strictEqual(notJson.status, 400)
      assert.include(String(notJson.body.error), "the body must be JSON")
      assert.strictEqual(count(file), 0, "bad resets change nothing")

      assert.deepStrictEqual(yield* call(`${url}/reset`, "POST", "{\"count\": 3}"), { status: 200, body: { ok: true, count: 3 } })
      assert.deepStrictEqual(yield* call(`${url}/tickets`), { status: 200, body: { count: 3 } })

      fs.writeFileSync(file, "{\"count\": ")
      for (const [route, method] of [["tickets", "GET"], ["buy", "POST"]] as const) {
        const r = yield* call(`${url}/${route}`, method)
        assert.strictEqual(r.status, 500)
        assert.include(String(r.body.error), `ticket file ${file}: corrupt: not valid JSON`)
      }
      assert.strictEqual(fs.readFileSync(file, "utf8"), "{\"count\": ")
      assert.strictEqual((yield* call(`${url}/nope`)).status, 404)
    })))

  it.live("two server processes share one ticket file: 30 concurrent POST /buy sell exactly 10", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      // --hold: each buy keeps its read up to 20 ms before writing, so without the lock this would oversell.
      const servers = yield* Effect.forEach([0, 1], (i) =>
        Effect.gen(function*() {
          const server = yield* child(mainScript, ["serve", "--file", file, "--hold", "20", ...(i === 0 ? ["--tickets", "10"] : [])])
          const line = yield* server.line("serving http://127.0.0.1:")
          return /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
        }))
      assert.notStrictEqual(servers[0], servers[1])
      const responses = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => servers[i % 2]!),
        (url) => call(`${url}/buy`, "POST"),
        { concurrency: "unbounded" }
      )
      const ok = responses.filter((r) => r.status === 200)
      assert.strictEqual(ok.length, 10)
      assert.strictEqual(responses.filter((r) => r.status === 409).length, 20)
      assert.deepStrictEqual(ok.map((r) => r.body.left).sort((a, b) => Number(a) - Number(b)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      for (const url of servers) assert.deepStrictEqual(yield* call(`${url}/tickets`), { status: 200, body: { count: 0 } })
      assert.strictEqual(count(file), 0)
    })))
})
