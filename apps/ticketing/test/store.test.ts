import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Lock } from "@weft/primitives"
import { Deferred, Effect, Fiber } from "effect"
import * as fc from "fast-check"
import * as Journal from "../src/journal.ts"
import * as Store from "../src/store.ts"
import { assertConfirmedPresent, memoryDir, reopen, tempDir } from "./helpers.ts"

const journalOf = (file: string) => path.join(path.dirname(file), JSON.parse(fs.readFileSync(file, "utf8").split("\n")[1]!).journal)

describe("TicketStore", () => {
  it.live("orders: seats 1..total, each once; sold out after; another process's view has every order", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)
      yield* store.reset(3)
      assert.deepStrictEqual(yield* store.tickets, { count: 3, sold: 0, total: 3 })
      const first = yield* store.buy({ buyer: "ada" })
      assert.isTrue(first.ok)
      if (!first.ok) return
      assert.strictEqual(first.order.seat, 1)
      assert.strictEqual(first.order.buyer, "ada")
      assert.strictEqual(first.left, 2)
      assert.isFalse(first.replayed)
      assert.isTrue(Number.isFinite(Date.parse(first.order.at)))
      const rest = yield* Effect.all([store.buy(), store.buy(), store.buy()], { concurrency: "unbounded" })
      assert.deepStrictEqual(rest.map((p) => p.ok), [true, true, false])
      assert.deepStrictEqual(rest[2], { ok: false, left: 0 })
      assert.strictEqual(rest[0]!.ok && rest[0]!.order.buyer, "anonymous")
      const { counts, orders } = yield* reopen(file)
      assert.deepStrictEqual(counts, { count: 0, sold: 3, total: 3 })
      assert.deepStrictEqual(orders.map((o) => o.seat), [1, 2, 3])
      assert.deepStrictEqual(yield* store.order(first.order.id), first.order)
      assert.isUndefined(yield* store.order("nope"))
      assert.isFalse(fs.existsSync(store.lockFile), "the lock is released")
      assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")), [], "no temporary file left")
    })))

  it.live("the seed's {\"count\": N} opens as N tickets, none sold, and becomes a snapshot at the first purchase", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      fs.writeFileSync(file, JSON.stringify({ count: 2 }) + "\n")
      const store = yield* Store.make(file)
      assert.deepStrictEqual(yield* store.tickets, { count: 2, sold: 0, total: 2 })
      assert.strictEqual(fs.readFileSync(file, "utf8"), "{\"count\":2}\n", "reading changes nothing")
      const p = yield* store.buy()
      assert.isTrue(p.ok && p.order.seat === 1)
      assert.isTrue(fs.readFileSync(file, "utf8").startsWith("{\"weft\":\"tickets\",\"v\":2"))
      assert.deepStrictEqual((yield* reopen(file)).counts, { count: 1, sold: 1, total: 2 })
    })))

  it.live("idempotency: the same key answers the same order (in one batch, later, after a reopen); another body fails", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)
      yield* store.reset(5)
      const same = yield* Effect.all(Array.from({ length: 4 }, () => store.buy({ buyer: "ada", key: "k1" })), { concurrency: "unbounded" })
      const ids = new Set(same.map((p) => p.ok ? p.order.id : "sold out"))
      assert.strictEqual(ids.size, 1)
      assert.strictEqual(same.filter((p) => p.ok && !p.replayed).length, 1)
      const later = yield* (yield* Store.make(file)).buy({ buyer: "ada", key: "k1" })
      assert.isTrue(later.ok && later.replayed && ids.has(later.order.id))
      const conflict = yield* Effect.flip((yield* Store.make(file)).buy({ buyer: "bob", key: "k1" }))
      assert.strictEqual(conflict._tag, "IdempotencyKeyReusedError")
      assert.include(conflict.message, "k1")
      const anonymous = yield* Effect.flip(store.buy({ key: "k1" }))
      assert.strictEqual(anonymous._tag, "IdempotencyKeyReusedError")
      assert.deepStrictEqual((yield* reopen(file)).counts, { count: 4, sold: 1, total: 5 })
    })))

  it.live("a torn journal tail is dropped, never read as an order; the next purchase cuts it off", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)
      yield* store.reset(3)
      const first = yield* store.buy({ buyer: "ada" })
      const journal = journalOf(file)
      const good = fs.statSync(journal).size
      fs.appendFileSync(journal, Buffer.from([0x57, 0x54, 0x4a, 0x31, 40, 0, 0, 0, 1, 2, 3, 4, 0x7b, 0x22]))
      const seen = yield* reopen(file)
      assert.deepStrictEqual(seen.counts, { count: 2, sold: 1, total: 3 })
      assertConfirmedPresent(seen.byId, first.ok ? [first.order] : [])
      const other = yield* Store.make(file)
      const second = yield* other.buy({ buyer: "bob" })
      assert.isTrue(second.ok && second.order.seat === 2)
      assert.isAbove(fs.statSync(journal).size, good)
      assert.deepStrictEqual((yield* reopen(file)).orders.map((o) => o.buyer), ["ada", "bob"])
    })))

  it.live("a corrupt journal or snapshot is refused with StoreCorruptError and left byte for byte as it was", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const setup = (name: string) =>
        Effect.gen(function*() {
          const file = path.join(dir, name)
          const store = yield* Store.make(file)
          yield* store.reset(5)
          yield* Effect.all([store.buy(), store.buy(), store.buy()], { concurrency: "unbounded" })
          yield* store.buy()
          return file
        })
      const refused = (file: string, damaged: string, problem: string) =>
        Effect.gen(function*() {
          const before = fs.readFileSync(damaged)
          const store = yield* Store.make(file)
          for (const op of [store.tickets, store.buy(), store.reset(9), store.orders] as Array<Effect.Effect<unknown, any>>) {
            const error = yield* Effect.flip(op)
            assert.strictEqual(error._tag, "StoreCorruptError", String(error))
            assert.include(error.message, file)
            assert.include(error.message, problem)
          }
          assert.deepStrictEqual(fs.readFileSync(damaged), before, "never overwritten")
        })

      const a = yield* setup("a.json")
      const journal = journalOf(a)
      const bytes = fs.readFileSync(journal)
      bytes[40]! ^= 0x20 // inside the first order, with valid orders after it
      fs.writeFileSync(journal, bytes)
      yield* refused(a, journal, "a damaged record followed by valid ones")

      const b = yield* setup("b.json")
      const text = fs.readFileSync(b, "utf8")
      fs.writeFileSync(b, text.replace("\"total\":5", "\"total\":6"))
      yield* refused(b, b, "checksum")

      const c = path.join(dir, "c.json")
      for (const [content, problem] of [["{\"cou", "neither"], ["", "neither"], ["{\"count\": -1}", "found {\"count\":-1}"], ["[3]", "found [3]"]]) {
        fs.writeFileSync(c, content!)
        yield* refused(c, c, problem!)
      }

      const d = yield* setup("d.json")
      fs.rmSync(journalOf(d))
      yield* refused(d, d, "journal is missing")

      const missing = yield* Effect.flip((yield* Store.make(path.join(dir, "none.json"))).buy())
      assert.strictEqual(missing._tag, "StoreMissingError")
    })))

  it.live("compaction folds the journal into a new snapshot; nothing is lost, the old journal is gone", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file, { compactAfter: 4 })
      yield* store.reset(20)
      const confirmed: Array<Store.Order> = []
      for (let i = 0; i < 11; i++) {
        const p = yield* store.buy({ buyer: `b${i}`, key: `k${i}` })
        if (p.ok) confirmed.push(p.order)
      }
      const seen = yield* reopen(file)
      assertConfirmedPresent(seen.byId, confirmed)
      assert.deepStrictEqual(seen.counts, { count: 9, sold: 11, total: 20 })
      assert.strictEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".journal")).length, 1)
      const again = yield* (yield* Store.make(file)).buy({ buyer: "b0", key: "k0" })
      assert.isTrue(again.ok && again.replayed && again.order.id === confirmed[0]!.id, "keys survive compaction")
    })))

  it.live("a holder whose lock was taken over (a stall past the stale window) writes nothing over the new holder's orders", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      yield* (yield* Store.make(file)).reset(5)
      // Two stores under two different locks: both "hold" at once, as after a takeover.
      const resume = yield* Deferred.make<void>()
      const held = yield* Deferred.make<void>()
      const stalled = yield* Store.make(file, { lock: yield* Lock.make, onHold: () => Deferred.succeed(held, undefined), hold: Deferred.await(resume) })
      const usurper = yield* Store.make(file, { lock: yield* Lock.make })
      const late = yield* Effect.forkChild(Effect.flip(stalled.buy({ buyer: "stalled" })))
      yield* Deferred.await(held)
      const taken = yield* usurper.buy({ buyer: "usurper" })
      yield* Deferred.succeed(resume, undefined)
      const error = yield* Fiber.join(late)
      assert.strictEqual(error._tag, "StoreIOError")
      assert.include(error.message, "taken over")
      const seen = yield* reopen(file)
      assert.deepStrictEqual(seen.orders.map((o) => o.buyer), ["usurper"])
      assertConfirmedPresent(seen.byId, taken.ok ? [taken.order] : [])
    })))

  it.live("reads while purchases are being written (the page's polling) never count an order twice or early", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const store = yield* Store.make(file)
      const reader = yield* Store.make(file) // another process's view
      yield* store.reset(150)
      let done = false
      let polls = 0
      const reads = Effect.gen(function*() {
        while (!done) {
          for (const s of [store, reader]) {
            const counts = yield* s.tickets
            const orders = yield* s.orders
            assert.strictEqual(counts.sold + counts.count, counts.total)
            assert.strictEqual(new Set(orders.map((o) => o.seat)).size, orders.length)
          }
          polls++
          yield* Effect.yieldNow
        }
      })
      const polling = yield* Effect.forkChild(reads)
      // Purchases in waves of 40, each followed by at least one more full
      // poll: the reads interleave with the writes however fast the writes
      // are (group commit can finish a wave in one batch).
      const purchases: Array<{ readonly ok: boolean }> = []
      for (let wave = 0; wave < 5; wave++) {
        const seen = polls
        purchases.push(...(yield* Effect.forEach(
          Array.from({ length: 40 }),
          (_, i) => store.buy({ buyer: `b${wave * 40 + i}` }),
          { concurrency: 40 }
        )))
        while (polls <= seen + 1) yield* Effect.yieldNow
      }
      done = true
      yield* Fiber.join(polling)
      assert.isAtLeast(polls, 10)
      assert.strictEqual(purchases.filter((p) => p.ok).length, 150)
      for (const s of [store, reader]) assert.deepStrictEqual(yield* s.tickets, { count: 0, sold: 150, total: 150 })
      assert.strictEqual((yield* store.orders).length, 150)
      assert.deepStrictEqual((yield* reopen(file)).counts, { count: 0, sold: 150, total: 150 })
    })))

  it.live("a batch taken back after another process read it (its fsync failed): that process reads again, leaves no hole", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      const writer = yield* Store.make(file)
      yield* writer.reset(5)
      yield* writer.buy({ buyer: "ada" })
      const journal = journalOf(file)
      const good = fs.statSync(journal).size
      // A batch written, read by another process, then cut off again: it was never confirmed.
      fs.appendFileSync(journal, Journal.encode([{ t: "order", id: "phantom", seat: 2, buyer: "phantom", at: new Date().toISOString() }]))
      const other = yield* Store.make(file)
      assert.deepStrictEqual(yield* other.tickets, { count: 3, sold: 2, total: 5 })
      fs.truncateSync(journal, good)
      assert.deepStrictEqual(yield* other.tickets, { count: 4, sold: 1, total: 5 })
      const next = yield* other.buy({ buyer: "bob" })
      assert.isTrue(next.ok && next.order.seat === 2)
      assert.deepStrictEqual((yield* reopen(file)).orders.map((o) => o.buyer), ["ada", "bob"])
    })))

  it.live("reset: a non-negative integer, else InvalidCountError", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* Store.make(path.join(dir, "tickets.json"))
      yield* store.reset(0)
      for (const bad of [-1, 1.5, "3", null, undefined, Number.NaN, Infinity, 2 ** 60]) {
        const error = yield* Effect.flip(store.reset(bad))
        assert.strictEqual(error._tag, "InvalidCountError")
        assert.include(error.message, "count must be a non-negative integer")
      }
      assert.deepStrictEqual(yield* store.tickets, { count: 0, sold: 0, total: 0 })
      assert.deepStrictEqual(yield* store.buy(), { ok: false, left: 0 })
    })))

  it.live("without a lock, stores read the same count and take the same seat (what the lock is for)", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.json")
      yield* (yield* Store.make(file)).reset(2)
      const rushOn = (lock: "none" | Lock.Lock) =>
        Effect.gen(function*() {
          yield* (yield* Store.make(file)).reset(2)
          const stores = yield* Effect.forEach(Array.from({ length: 6 }), () => Store.make(file, { lock, hold: Effect.sleep("30 millis") }))
          const purchases = yield* Effect.forEach(stores, (s) => s.buy(), { concurrency: "unbounded" })
          return purchases.filter((p) => p.ok).length
        })
      assert.strictEqual(yield* rushOn(yield* Lock.make), 2)
      assert.strictEqual(yield* rushOn("none"), 6)
    })))
})

describe("random rushes (fast-check)", () => {
  it.live("1,000 rushes of random buyers, tickets and hold times: sold + left = total, no seat twice, every confirmed order present", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* memoryDir
      let run = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: 12 }),
            fc.array(fc.record({ store: fc.nat(3), hold: fc.nat(2), key: fc.option(fc.nat(5), { nil: undefined }) }), { minLength: 1, maxLength: 16 }),
            fc.boolean(),
            (tickets, buyers, fileLock) =>
              Effect.runPromise(Effect.scoped(Effect.gen(function*() {
                const file = path.join(dir, `r${run++}.json`)
                // Four "processes" (stores, each with its own state and group commit) on one file:
                // a FileLock each, or one fiber Lock shared (cheaper, same protocol on disk).
                const shared = yield* Lock.make
                const stores = yield* Effect.forEach([0, 1, 2, 3], () => Store.make(file, fileLock ? {} : { lock: shared }))
                yield* stores[0]!.reset(tickets)
                const results = yield* Effect.forEach(buyers, (b, i) =>
                  Effect.sleep(b.hold).pipe(Effect.andThen(Effect.result(stores[b.store]!.buy({
                    buyer: `buyer ${i}`,
                    key: b.key === undefined ? undefined : `key-${b.key}`
                  })))), { concurrency: "unbounded" })
                const confirmed = results.flatMap((r) => r._tag === "Success" && r.success.ok ? [r.success.order] : [])
                const seen = yield* reopen(file)
                assertConfirmedPresent(seen.byId, confirmed)
                const keyed = new Set(buyers.flatMap((b) => b.key === undefined ? [] : [b.key])).size
                const plain = buyers.filter((b) => b.key === undefined).length
                assert.strictEqual(seen.counts.sold, Math.min(tickets, seen.counts.sold), "never more than total")
                assert.isAtMost(seen.counts.sold, plain + keyed, "one ticket per key")
                if (plain + keyed <= tickets) assert.strictEqual(seen.counts.sold, plain + keyed, "everyone who could buy did")
                else assert.strictEqual(seen.counts.count, 0)
                for (const s of stores) assert.deepStrictEqual(yield* s.tickets, seen.counts)
                for (const f of fs.readdirSync(dir)) if (f.startsWith(`r${run - 1}.`)) fs.rmSync(path.join(dir, f), { force: true })
              }))),
          ),
          { numRuns: 1000 }
        )
      )
      assert.strictEqual(run, 1000)
    })), 120_000)
})
