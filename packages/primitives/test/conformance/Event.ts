/**
 * The event conformance suite: the same behaviours against every event at
 * every scope — `Event`, `SharedEvent`, `manager.event()` (and
 * `@weft/cluster`'s `event(name)`):
 *
 * ```ts
 * eventConformance("SharedEvent", () => SharedEvent.make)
 * ```
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { pipe } from "effect/Function"
import { Event, Promised } from "../../src/index.ts"
import { type Factory, type Options, settle, tester } from "./helpers.ts"

export const eventConformance = (name: string, make: Factory<Event.Event>, options?: Options): void => {
  const test = tester(`${name} (event conformance)`, make, options)

  describe(`${name}: the Event interface`, () => {
    test("set, isSet, clear; wait returns at once while set", [], (event) =>
      Effect.gen(function*() {
        assert.isFalse(yield* event.isSet)
        yield* event.set
        assert.isTrue(yield* event.isSet)
        yield* event.wait
        assert.isTrue(yield* event.waitFor(0))
        yield* event.clear
        assert.isFalse(yield* event.isSet)
      }))

    test("set wakes every waiter", [], (event) =>
      Effect.gen(function*() {
        const waiters = yield* Effect.forEach([1, 2, 3], (i) => Effect.forkChild(Effect.as(event.wait, i)))
        const timed = yield* Effect.forkChild(event.waitFor("10 seconds"))
        yield* settle
        yield* event.set
        assert.deepStrictEqual(yield* Effect.forEach(waiters, Fiber.join), [1, 2, 3])
        assert.isTrue(yield* Fiber.join(timed))
      }))

    test("waitFor: false when the time runs out; a bad timeout fails", [], (event) =>
      Effect.gen(function*() {
        const started = Date.now()
        assert.isFalse(yield* event.waitFor("40 millis"))
        assert.isAtLeast(Date.now() - started, 30)
        assert.strictEqual((yield* Effect.flip(event.waitFor(-1)))._tag, "InvalidArgumentError")
      }))

    test("an interrupted waiter does not disturb the others", [], (event) =>
      Effect.gen(function*() {
        const quitter = yield* Effect.forkChild(event.wait)
        const stayer = yield* Effect.forkChild(event.wait)
        yield* settle
        yield* Fiber.interrupt(quitter)
        yield* event.set
        yield* Fiber.join(stayer)
      }))

    test("members work passed as values or destructured; module functions data-first and data-last", [], (event) =>
      Effect.gen(function*() {
        const { clear, isSet, set, wait, waitFor } = event
        yield* set
        yield* wait
        assert.isTrue(yield* isSet)
        yield* clear
        assert.isFalse(yield* waitFor(1))
        yield* Event.set(event)
        assert.isTrue(yield* Event.isSet(event))
        yield* Event.wait(event)
        assert.isTrue(yield* Event.waitFor(event, 0))
        yield* Event.clear(event)
        assert.isFalse(yield* pipe(event, Event.waitFor(1)))
        assert.deepStrictEqual(yield* Effect.all([event].map(Event.isSet)), [false])
      }))

    test("the Promise face: wait resolves once set", [], (event) =>
      Effect.promise(async () => {
        const ready = Promised.event(event)
        assert.isFalse(await ready.waitFor(5))
        const waiting = ready.wait()
        await ready.set()
        await waiting
        assert.isTrue(await ready.isSet())
      }))
  })
}
