import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { exists as alive } from "@weft/testkit"
import * as Http from "../src/http.ts"
import * as Serve from "@weft/app/Serve"
import * as Store from "../src/store.ts"
import { type Child, child, mainScript, reopen, tempDir } from "./helpers.ts"

type Answer = { status: number; body: any; headers: Headers }

const json = { "content-type": "application/json" }

const call = (url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    return { status: response.status, body: await response.json(), headers: response.headers }
  })

const buy = (url: string, body?: unknown, key?: string) =>
  call(`${url}/buy`, {
    method: "POST",
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { "idempotency-key": key }) }
  })

/** The API of one store, served in this process on a free port. */
const served = (tickets: number, adminToken?: string) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const file = path.join(dir, "tickets.json")
    const store = yield* Store.make(file)
    yield* store.reset(tickets)
    const { url } = yield* Serve.serve(Http.makeApp(store, { adminToken }))
    return { url, file, store }
  })

/** `serve` as a child process; waits for its "serving" line. */
const serve = (file: string, args: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const server = yield* child(mainScript, ["serve", "--file", file, ...args])
    const line = yield* server.line("serving http://127.0.0.1:", 30_000)
    return { server, url: /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]! }
  })

describe("HTTP API", () => {
  it.live("serve keeps its store in the data directory (--data DIR), never in the working directory", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const server = yield* child(mainScript, ["serve", "--data", dir, "--tickets", "2"])
      const line = yield* server.line("serving http://127.0.0.1:", 30_000)
      const file = path.join(dir, "tickets.json")
      assert.include(line, `store ${file}`)
      assert.isTrue(fs.existsSync(file))
      const url = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
      assert.strictEqual((yield* buy(url, { buyer: "ada" })).status, 200)
    })), 60_000)

  it.live("GET /tickets, POST /buy (order with a seat) until 409, GET /orders/:id, 404s", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* served(2)
      assert.deepStrictEqual((yield* call(`${url}/tickets`)).body, { count: 2, sold: 0, total: 2 })
      const health = yield* call(`${url}/health`)
      assert.strictEqual(health.status, 200)
      const first = yield* buy(url, { buyer: "ada" })
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.body.ok, true)
      assert.strictEqual(first.body.left, 1)
      assert.deepStrictEqual(Object.keys(first.body.order).sort(), ["at", "buyer", "id", "seat"])
      assert.strictEqual(first.body.order.seat, 1)
      assert.strictEqual(first.body.order.buyer, "ada")
      const second = yield* buy(url)
      assert.strictEqual(second.body.order.seat, 2)
      assert.strictEqual(second.body.order.buyer, "anonymous")
      const third = yield* buy(url, { buyer: "cy" })
      assert.deepStrictEqual({ status: third.status, body: third.body }, { status: 409, body: { ok: false, error: "sold out", left: 0 } })
      const order = yield* call(`${url}/orders/${first.body.order.id}`)
      assert.deepStrictEqual({ status: order.status, body: order.body }, { status: 200, body: first.body.order })
      assert.strictEqual((yield* call(`${url}/orders/nope`)).status, 404)
      const nowhere = yield* call(`${url}/nowhere`)
      assert.strictEqual(nowhere.status, 404)
      assert.include(nowhere.body.error, "GET /tickets")
    })))

  it.live("Idempotency-Key: the same key answers the same order with no second ticket; another body is 422", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* served(5)
      const a = yield* buy(url, { buyer: "ada" }, "key-1")
      const b = yield* buy(url, { buyer: "ada" }, "key-1")
      assert.strictEqual(b.status, 200)
      assert.deepStrictEqual(b.body.order, a.body.order)
      assert.strictEqual(b.headers.get("idempotent-replayed"), "true")
      const c = yield* buy(url, { buyer: "bob" }, "key-1")
      assert.strictEqual(c.status, 422)
      assert.include(c.body.error, "key-1")
      assert.strictEqual((yield* buy(url, undefined, "key-1")).status, 422)
      assert.deepStrictEqual((yield* call(`${url}/tickets`)).body, { count: 4, sold: 1, total: 5 })
    })))

  it.live("a buyer's name is counted in characters: 100 emoji are a name, 101 are not, and the error cuts no character in half", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* served(5)
      const ok = yield* buy(url, { buyer: "🚄".repeat(51) })
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.body.order.buyer, "🚄".repeat(51))
      assert.strictEqual((yield* buy(url, { buyer: "🚄".repeat(100) })).status, 200)
      const refused = yield* buy(url, { buyer: "🚄".repeat(101) })
      assert.strictEqual(refused.status, 400)
      assert.include(refused.body.error, "1 to 100 characters")
      assert.include(refused.body.error, "🚄".repeat(59) + "…")
      // No lone half of a surrogate pair anywhere in the message.
      assert.notMatch(refused.body.error, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/)
    })))

  it.live("bad requests of every kind: 400 naming what was wrong, and nothing sold", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* served(5)
      const cases: Array<[unknown, string | undefined, string]> = [
        ["{\"buyer\": ", undefined, "not valid JSON"],
        ["[1]", undefined, "must be a JSON object"],
        ["null", undefined, "must be a JSON object"],
        ["\"ada\"", undefined, "must be a JSON object"],
        [{ buyer: 42 }, undefined, "\"buyer\" must be a name"],
        [{ buyer: "" }, undefined, "\"buyer\" must be a name"],
        [{ buyer: "   " }, undefined, "\"buyer\" must be a name"],
        [{ buyer: "x".repeat(101) }, undefined, "1 to 100 characters"],
        [{ buyer: "a\u0000b" }, undefined, "no control characters"],
        [{ buyer: "ada", seats: 2 }, undefined, "unknown field \"seats\""],
        [{ buyer: "🚄".repeat(101) }, undefined, "1 to 100 characters"],
        [{ buyer: "ada" }, "has space", "Idempotency-Key"],
        [{ buyer: "ada" }, "k".repeat(201), "Idempotency-Key"],
        [{ buyer: "ada" }, "ключ", "Idempotency-Key"]
      ]
      for (const [body, key, problem] of cases) {
        const answer = yield* Effect.promise(async () => {
          const headers: Record<string, string> = { "content-type": "application/json" }
          if (key !== undefined) headers["idempotency-key"] = encodeURIComponent(key) === key ? key : key
          try {
            const r = await fetch(`${url}/buy`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers })
            return { status: r.status, body: await r.json() as any }
          } catch (error) {
            // fetch refuses a non-ASCII header value itself: that never reaches a server.
            return { status: 400, body: { error: `Idempotency-Key (refused by fetch: ${String(error)})` } }
          }
        })
        assert.strictEqual(answer.status, 400, `${JSON.stringify(body)} ${key}`)
        assert.strictEqual(answer.body.ok === undefined || answer.body.ok === false, true)
        assert.include(answer.body.error, problem)
      }
      assert.deepStrictEqual((yield* call(`${url}/tickets`)).body, { count: 5, sold: 0, total: 5 })
    })))

  it.live("POST /reset needs the admin token: none configured is refused (403), missing or wrong is 401, right resets", () =>
    Effect.scoped(Effect.gen(function*() {
      const open = yield* served(3)
      const refused = yield* call(`${open.url}/reset`, { method: "POST", body: "{\"count\": 9}", headers: { ...json, authorization: "Bearer anything" } })
      assert.strictEqual(refused.status, 403)
      assert.include(refused.body.error, "--admin-token")

      const { url } = yield* served(3, "s3cret")
      const reset = (body: string, authorization?: string) =>
        call(`${url}/reset`, { method: "POST", body, headers: authorization === undefined ? json : { ...json, authorization } })
      const missing = yield* reset("{\"count\": 9}")
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(missing.headers.get("www-authenticate"), "Bearer")
      assert.strictEqual((yield* reset("{\"count\": 9}", "Bearer wrong")).status, 401)
      assert.strictEqual((yield* reset("{\"count\": 9}", "Basic s3cret")).status, 401)
      assert.strictEqual((yield* reset("{\"count\": 9}", "Bearer  s3cret")).status, 401)
      assert.deepStrictEqual((yield* call(`${url}/tickets`)).body, { count: 3, sold: 0, total: 3 })
      for (const bad of ["{\"count\": -1}", "{\"count\": \"3\"}", "nope", "{}"]) {
        const answer = yield* reset(bad, "Bearer s3cret")
        assert.strictEqual(answer.status, 400, bad)
      }
      yield* buy(url)
      const ok = yield* reset("{\"count\": 9}", "Bearer s3cret")
      assert.deepStrictEqual({ status: ok.status, body: ok.body }, { status: 200, body: { ok: true, count: 9 } })
      assert.deepStrictEqual((yield* call(`${url}/tickets`)).body, { count: 9, sold: 0, total: 9 })
    })))
})

describe("serve processes", () => {
  it.live("a serve and a serve --workers 2 on one store (three processes): 90 concurrent buys of 40 tickets sell exactly 40", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const a = yield* serve(file, ["--tickets", "40"])
      const c = yield* serve(file, ["--workers", "2"])
      const urls = [a.url, c.url, c.url]
      const answers = yield* Effect.forEach(
        Array.from({ length: 90 }, (_, i) => urls[i % 3]!),
        (url, i) => buy(url, { buyer: `b${i}` }),
        { concurrency: "unbounded" }
      )
      const ok = answers.filter((r) => r.status === 200)
      assert.strictEqual(ok.length, 40)
      assert.strictEqual(answers.filter((r) => r.status === 409).length, 50)
      assert.deepStrictEqual(ok.map((r) => r.body.order.seat).sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i + 1))
      for (const url of urls) assert.deepStrictEqual((yield* call(`${url}/tickets`)).body, { count: 0, sold: 40, total: 40 })
      const seen = yield* reopen(file)
      assert.strictEqual(seen.orders.length, 40)
    })), 60_000)

  it.live("the same key sent to two processes at once buys one ticket; both answer the same order", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const a = yield* serve(file, ["--tickets", "10"])
      const b = yield* serve(file)
      for (let round = 0; round < 5; round++) {
        const answers = yield* Effect.all([a.url, b.url, a.url, b.url].map((url) => buy(url, { buyer: "ada" }, `same-${round}`)), { concurrency: "unbounded" })
        assert.deepStrictEqual(answers.map((r) => r.status), [200, 200, 200, 200])
        assert.strictEqual(new Set(answers.map((r) => r.body.order.id)).size, 1)
      }
      assert.deepStrictEqual((yield* call(`${a.url}/tickets`)).body, { count: 5, sold: 5, total: 10 })
    })), 60_000)

  it.live("idempotency across a restart, and after a dropped connection: the retry gets the same order", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const first = yield* serve(file, ["--tickets", "10"])
      const bought = yield* buy(first.url, { buyer: "ada" }, "restart-key")
      // process.kill, not proc.kill: Deno's ChildProcess reports the signal it sent, not the exit code.
      process.kill(first.server.proc.pid!, "SIGTERM")
      assert.strictEqual(yield* first.server.exited, 0)
      const second = yield* serve(file)
      const again = yield* buy(second.url, { buyer: "ada" }, "restart-key")
      assert.deepStrictEqual(again.body.order, bought.body.order)
      assert.strictEqual(again.headers.get("idempotent-replayed"), "true")

      // A buyer whose connection drops right after sending: it cannot know; it retries with the key.
      const port = Number(new URL(second.url).port)
      const body = JSON.stringify({ buyer: "bob" })
      yield* Effect.callback<void>((resume) => {
        const socket = net.connect(port, "127.0.0.1", () => {
          socket.end(
            `POST /buy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nIdempotency-Key: dropped-key\r\n` +
              `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
            () => {
              socket.destroy()
              resume(Effect.void)
            }
          )
        })
        socket.on("error", () => resume(Effect.void))
      })
      const retry = yield* buy(second.url, { buyer: "bob" }, "dropped-key")
      const retry2 = yield* buy(second.url, { buyer: "bob" }, "dropped-key")
      assert.strictEqual(retry.status, 200)
      assert.deepStrictEqual(retry2.body.order, retry.body.order)
      const seen = yield* reopen(file)
      assert.strictEqual(seen.orders.filter((o) => o.buyer === "bob").length, 1, "one ticket for the dropped buyer")
      assert.strictEqual(seen.orders.length, 2)
    })), 60_000)

  it.live("SIGTERM stops every process of serve --workers 3", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const { server, url } = yield* serve(file, ["--tickets", "5", "--workers", "3"])
      const pids = new Set<number>()
      for (let i = 0; i < 200 && pids.size < 3; i++) pids.add((yield* call(`${url}/health`, { headers: { connection: "close" } })).body.pid)
      assert.strictEqual(pids.size, 3, "three workers answer on one port")
      assert.sameMembers([...pids], [...server.output().matchAll(/worker \d+ pid (\d+) listening/g)].map((m) => Number(m[1])))
      process.kill(server.proc.pid!, "SIGTERM")
      assert.strictEqual(yield* server.exited, 0)
      for (const pid of pids) {
        for (let i = 0; i < 100 && alive(pid); i++) yield* Effect.sleep("50 millis")
        assert.isFalse(alive(pid), `worker ${pid} is gone`)
      }
    })), 60_000)
})

export type { Child }
