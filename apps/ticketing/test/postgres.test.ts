// The PostgreSQL store: several `serve --store postgres://...` instances sell from one stock.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Store from "../src/store.ts"
import * as PgStore from "../src/store/postgres.ts"
import { child, mainScript } from "./helpers.ts"
import { type Answer, buy, call, contents, database, eventually, type Instance, noServer, serve, title } from "./pg.ts"

const all = <A>(promises: ReadonlyArray<Promise<A>>) => Effect.promise(() => Promise.all(promises))

/** Checks the store read directly: sold = orders, seats 1..sold each once. */
const exact = (url: string) =>
  Effect.gen(function*() {
    const seen = yield* contents(url)
    assert.strictEqual(seen.orders.length, seen.sold, "one order per seat sold")
    assert.deepStrictEqual(seen.orders.map((o) => o.seat), Array.from({ length: seen.sold }, (_, i) => i + 1), "seats 1..sold, each once")
    assert.isAtMost(seen.sold, seen.total)
    return seen
  })

describe.skipIf(noServer)(title("the PostgreSQL store (serve --store postgres://...)"), () => {
  it.live("three instances started at once on an empty database, 100 tickets, 600 concurrent buyers: exactly 100 orders on distinct seats, 500 told 409; every order readable from every instance; the counts agree", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* database()
      // All three at the same moment, each asking for a sale of 100: the schema is made once, one sale starts.
      const instances = yield* Effect.all([1, 2, 3].map(() => serve(url, ["--tickets", "100"])), { concurrency: "unbounded" })
      const started = instances.filter((i) => i.child.output().includes("started a sale of 100"))
      assert.strictEqual(started.length, 1, "one instance started the sale, the others joined it")
      const answers = yield* all(Array.from({ length: 600 }, (_, i) => buy(instances[i % 3]!.base, `rush-${i}`, `buyer ${i}`)))
      const ok = answers.filter((a) => a.status === 200)
      assert.strictEqual(ok.length, 100, `not 200 or 409: ${JSON.stringify(answers.filter((a) => a.status !== 200 && a.status !== 409).slice(0, 3))}`)
      assert.strictEqual(answers.filter((a) => a.status === 409).length, 500)
      const seats = ok.map((a) => a.body.order.seat as number).sort((a, b) => a - b)
      assert.deepStrictEqual(seats, Array.from({ length: 100 }, (_, i) => i + 1))
      for (const instance of instances) {
        const read = yield* all(ok.map((a) => call(instance.base, `/orders/${a.body.order.id}`)))
        read.forEach((r, i) => assert.deepStrictEqual(r.body, ok[i]!.body.order))
        assert.deepStrictEqual((yield* Effect.promise(() => call(instance.base, "/tickets"))).body, { count: 0, sold: 100, total: 100 })
      }
      yield* exact(url)
    })), 120_000)

  it.live("one Idempotency-Key sent to two instances at once: one order, and both answers name it", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* database()
      const [a, b] = (yield* Effect.all([serve(url, ["--tickets", "100"]), serve(url)], { concurrency: "unbounded" })) as [Instance, Instance]
      yield* eventually(async () => (await call(b.base, "/tickets")).body?.total === 100)
      for (let round = 0; round < 20; round++) {
        const key = `twice-${round}`
        const [x, y] = (yield* all([buy(a.base, key, "ada"), buy(b.base, key, "ada")])) as [Answer, Answer]
        assert.strictEqual(x.status, 200)
        assert.strictEqual(y.status, 200)
        assert.deepStrictEqual(x.body.order, y.body.order, `round ${round}: both name one order`)
      }
      const seen = yield* exact(url)
      assert.strictEqual(seen.sold, 20, "one ticket per key")
      // The same key with another body: 422 from either instance.
      assert.strictEqual((yield* Effect.promise(() => buy(b.base, "twice-0", "bob"))).status, 422)
    })), 90_000)

  it.live("an instance SIGKILLed mid-rush loses no order it answered 200; restarted, it reads them all", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* database()
      const [a, b] = (yield* Effect.all([serve(url, ["--tickets", "100000"]), serve(url)], { concurrency: "unbounded" })) as [Instance, Instance]
      yield* eventually(async () => (await call(b.base, "/tickets")).body?.total === 100_000)
      const confirmed: Array<{ id: string; seat: number; buyer: string; at: string }> = []
      let stop = false
      const loop = (base: string, n: number) =>
        (async () => {
          for (let i = 0; !stop; i++) {
            const answer = await buy(base, `kill-${n}-${i}`, `buyer ${n}`, 5_000)
            if (answer.status === 200) confirmed.push(answer.body.order)
            else if (answer.status === 0) return
          }
        })()
      const loops = Array.from({ length: 8 }, (_, n) => loop(n % 2 === 0 ? a.base : b.base, n))
      yield* eventually(async () => confirmed.length >= 200, 30_000, "200 purchases")
      b.child.proc.kill("SIGKILL")
      yield* b.child.exited
      yield* eventually(async () => confirmed.length >= 400, 30_000, "a's buyers go on")
      stop = true
      yield* Effect.promise(() => Promise.all(loops))
      const seen = yield* exact(url)
      const byId = new Map(seen.orders.map((o) => [o.id, o]))
      for (const order of confirmed) assert.deepStrictEqual(byId.get(order.id), order, `confirmed order ${order.id} is there`)
      // Restarted on the same store: it reads every order, its own from before the kill too.
      const again = yield* serve(url)
      const read = yield* all(confirmed.map((o) => call(again.base, `/orders/${o.id}`)))
      read.forEach((r, i) => assert.deepStrictEqual(r.body, confirmed[i]))
      assert.deepStrictEqual((yield* Effect.promise(() => call(again.base, "/tickets"))).body, { count: 100_000 - seen.sold, sold: seen.sold, total: 100_000 })
    })), 120_000)

  it.live("the live count crosses instances (SSE, pushed by the server); reset needs the admin token; a new instance (here with --workers 2) joins the sale as it is", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* database()
      const a = yield* serve(url, ["--tickets", "5", "--admin-token", "s3cret"])
      // b serves from two processes on one port (`--workers 2`), each with its own connections.
      const b = yield* serve(url, ["--tickets", "9", "--workers", "2"])
      assert.include(b.child.output(), "joined the sale")
      assert.deepStrictEqual((yield* Effect.promise(() => call(b.base, "/tickets"))).body, { count: 5, sold: 0, total: 5 })
      // A page on b listens; purchases on a show up there.
      const events: Array<{ count: number; sold: number; total: number }> = []
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      const response = yield* Effect.promise(() => fetch(`${b.base}/events`, { signal: controller.signal }))
      void (async () => {
        const reader = response.body!.getReader()
        let text = ""
        try {
          for (;;) {
            const { done, value } = await reader.read()
            if (done) return
            text += new TextDecoder().decode(value)
            for (const m of text.matchAll(/data: (.*)\n/g)) events.push(JSON.parse(m[1]!))
            text = text.slice(text.lastIndexOf("\n") + 1)
          }
        } catch {
          // aborted at the end
        }
      })()
      yield* eventually(async () => events.some((e) => e.count === 5), 10_000, "the first count")
      yield* all([buy(a.base), buy(a.base)])
      yield* eventually(async () => events.some((e) => e.sold === 2), 10_000, "b's page sees a's sales")
      // Reset: refused without the token (b has none configured; a wants it), done with it, seen on b's page.
      assert.strictEqual((yield* Effect.promise(() => call(b.base, "/reset", { method: "POST", headers: { "content-type": "application/json" }, body: "{\"count\":7}" }))).status, 403)
      assert.strictEqual((yield* Effect.promise(() => call(a.base, "/reset", { method: "POST", headers: { "content-type": "application/json" }, body: "{\"count\":7}" }))).status, 401)
      assert.strictEqual((yield* exact(url)).sold, 2)
      const reset = yield* Effect.promise(() =>
        call(a.base, "/reset", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer s3cret" }, body: "{\"count\":7}" })
      )
      assert.strictEqual(reset.status, 200)
      yield* eventually(async () => events.some((e) => e.total === 7 && e.sold === 0), 10_000, "b's page sees the reset")
      const after = yield* Effect.promise(() => buy(b.base))
      assert.strictEqual(after.body.order.seat, 1, "a fresh sale starts at seat 1")
    })), 90_000)

  it.live("rush --store postgres://...: buyer processes on a ProcessPool, exact", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* database()
      const rush = yield* child(mainScript, ["rush", "--store", url, "--tickets", "3", "--buyers", "6"])
      assert.strictEqual(yield* rush.exited, 0, rush.output())
      assert.include(rush.output(), "sold 3 of 3 tickets to 6 buyers; 3 told sold out")
      assert.include(rush.output(), "exact: each purchase took the next seat")
      yield* exact(url)
      const refused = yield* child(mainScript, ["rush", "--store", url, "--no-lock"])
      assert.strictEqual(yield* refused.exited, 2)
    })), 90_000)

  it.live("the store's interface: replays, a key reused with another body, bad counts, one key from two handles at once", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* database()
      const one = yield* Store.open(url)
      const two = yield* PgStore.make(url, { connections: 2 })
      assert.isTrue(yield* two.create(3))
      assert.isFalse(yield* two.create(5), "a sale exists: create leaves it")
      const [x, y] = yield* Effect.all([one.buy({ buyer: "ada", key: "k" }), two.buy({ buyer: "ada", key: "k" })], { concurrency: "unbounded" })
      assert.isTrue(x.ok && y.ok && x.order.id === y.order.id)
      assert.isTrue((x.ok && !x.replayed) !== (y.ok && !y.replayed), "one bought, the other replayed")
      // One key twice in one batch of one process: one order.
      const [d1, d2] = yield* Effect.all([one.buy({ buyer: "cy", key: "d" }), one.buy({ buyer: "cy", key: "d" })], { concurrency: "unbounded" })
      assert.isTrue(d1.ok && d2.ok && d1.order.id === d2.order.id)
      const reused = yield* Effect.flip(one.buy({ buyer: "bob", key: "k" }))
      assert.strictEqual(reused._tag, "IdempotencyKeyReusedError")
      assert.strictEqual((yield* Effect.flip(one.reset(-1)))._tag, "InvalidCountError")
      assert.deepStrictEqual(yield* one.tickets, { count: 1, sold: 2, total: 3 })
      yield* one.buy()
      assert.deepStrictEqual(yield* one.buy(), { ok: false, left: 0 })
      const replay = yield* two.buy({ buyer: "ada", key: "k" })
      assert.isTrue(replay.ok && replay.replayed && replay.left === 0)
      assert.deepStrictEqual((yield* one.orders).map((o) => o.seat), [1, 2, 3])
      assert.isUndefined(yield* one.order("no-such-order"))
      // An unreachable server: a StoreIOError (HTTP 503), not a hang.
      const gone = yield* Effect.flip(PgStore.make("postgres://nobody@127.0.0.1:1/none", { answerWithin: 4_000 }))
      assert.strictEqual(gone._tag, "StoreIOError")
    })), 60_000)
})
