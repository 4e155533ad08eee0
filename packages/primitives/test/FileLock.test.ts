import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { expect, it as vitestIt } from "vitest"
import { smallDisk } from "@weft/testkit"
import { FileLock, Inspect } from "../src/index.ts"
import { child, rmwRace } from "./fixtures/children.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "weft-filelock-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const count = (file: string) => (JSON.parse(fs.readFileSync(file, "utf8")) as { count: number }).count

const age = (file: string, ms: number) => {
  const then = new Date(Date.now() - ms)
  fs.utimesSync(file, then, then)
}

describe("FileLock", () => {
  it.live("acquire, tryAcquire, locked, release; the file need not exist beforehand", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "a.lock")
      const a = yield* FileLock.make(file)
      const b = yield* FileLock.make(file)
      assert.isFalse(yield* a.locked)
      assert.isTrue(Option.isNone(yield* FileLock.inspect(file)))
      yield* a.acquire
      assert.isTrue(yield* b.locked)
      assert.isFalse(yield* b.tryAcquire)
      assert.isFalse(yield* b.acquireFor("30 millis"))
      const owner = yield* FileLock.inspect(file)
      assert.strictEqual(Option.getOrThrow(owner).pid, process.pid)
      yield* a.release
      assert.isFalse(fs.existsSync(file))
      const notHeld = yield* Effect.flip(a.release)
      assert.strictEqual(notHeld._tag, "NotHeldError")
      assert.strictEqual(yield* b.withLock(Effect.succeed(7)), 7)
      assert.isFalse(fs.existsSync(file))
      const bad = yield* Effect.flip(FileLock.make(file, { stale: -1 }))
      assert.strictEqual(bad._tag, "InvalidArgumentError")
    })))

  it.live("4 processes x 50 read-modify-writes: exact under a FileLock, lost updates without", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const lockFile = path.join(dir, "counter.lock")
      const guarded = path.join(dir, "guarded.json")
      const control = path.join(dir, "control.json")
      fs.writeFileSync(guarded, JSON.stringify({ count: 0 }))
      fs.writeFileSync(control, JSON.stringify({ count: 0 }))
      yield* Effect.all([rmwRace("filelock", lockFile, guarded, 40_000), rmwRace("none", lockFile, control, 40_000)], { concurrency: 2 })
      assert.strictEqual(count(guarded), 200)
      assert.isBelow(count(control), 200, "the lock-free control should lose updates")
      assert.isFalse(fs.existsSync(lockFile))
    })), 90_000)

  it.live("a holder SIGKILLed while holding: its lock is taken over at once (same host, pid gone)", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "held.lock")
      const holder = yield* child(["hold", "filelock", file])
      yield* holder.line("held")
      const lock = yield* FileLock.make(file) // stale window 10 s: only the pid check can free it
      assert.isFalse(yield* lock.acquireFor("100 millis"))
      // interrupting a waiter leaves nothing behind
      const waiter = yield* Effect.forkChild(lock.acquire)
      yield* Effect.sleep("30 millis")
      yield* Fiber.interrupt(waiter)
      assert.strictEqual(Option.getOrThrow(yield* FileLock.inspect(file)).pid, holder.proc.pid)
      holder.proc.kill("SIGKILL")
      yield* holder.exited
      const start = Date.now()
      assert.isTrue(yield* lock.acquireFor("3 seconds"))
      assert.isBelow(Date.now() - start, 2_000)
      assert.strictEqual(Option.getOrThrow(yield* FileLock.inspect(file)).pid, process.pid)
      yield* lock.release
    })), 30_000)

  it.live("heartbeat: a live owner's file stays fresh; a file whose heartbeat stopped is taken over", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "beat.lock")
      const owner = yield* FileLock.make(file, { stale: "300 millis", heartbeat: "50 millis" })
      const other = yield* FileLock.make(file, { stale: "300 millis" })
      yield* owner.acquire
      yield* Effect.sleep("500 millis")
      assert.isFalse(yield* other.tryAcquire, "the heartbeat keeps the lock fresh")
      yield* owner.release
      // another host's record (pid check impossible) whose mtime stopped moving
      fs.writeFileSync(
        file,
        JSON.stringify({ weft: "FileLock", v: 1, pid: 1, host: "elsewhere", token: "t", since: Date.now() })
      )
      assert.isFalse(yield* other.acquireFor("50 millis"), "fresh: respected")
      age(file, 1_000)
      assert.isTrue(yield* other.acquireFor("1 second"), "stale: taken over")
      yield* other.release
    })), 10_000)

  it.live("a corrupt or foreign lock file: reported by inspect, respected while fresh, taken over when stale", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "foreign.lock")
      fs.writeFileSync(file, "pid=1234 (some other tool)")
      const error = yield* Effect.flip(FileLock.inspect(file))
      assert.strictEqual(error._tag, "FileLockCorruptError")
      assert.include(error.message, "not a FileLock record")
      const lock = yield* FileLock.make(file, { stale: "1 second" })
      assert.isFalse(yield* lock.tryAcquire)
      assert.isTrue(yield* lock.locked)
      age(file, 5_000)
      assert.isTrue(yield* lock.tryAcquire)
      assert.strictEqual(Option.getOrThrow(yield* FileLock.inspect(file)).token.length > 0, true)
      yield* lock.release
    })))

  it.live("release only by the owner: a lock taken over meanwhile is left to its new owner", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "lost.lock")
      const lock = yield* FileLock.make(file)
      yield* lock.acquire
      const theirs = JSON.stringify({ weft: "FileLock", v: 1, pid: 1, host: "elsewhere", token: "theirs", since: 0 })
      fs.writeFileSync(file, theirs)
      const error = yield* Effect.flip(lock.release)
      assert.strictEqual(error._tag, "NotHeldError")
      assert.strictEqual(fs.readFileSync(file, "utf8"), theirs)
      // a missing directory is a clear defect, not a hang
      const nowhere = yield* FileLock.make(path.join(dir, "missing", "x.lock"))
      const exit = yield* Effect.exit(nowhere.tryAcquire)
      assert.include(String(exit), "FileLockError")
    })))
})

// A full disk: a small tmpfs, filled up. Mounting needs root (CI and this
// project's machines run as root); elsewhere the test is skipped, and says so.
describe("FileLock on a full disk", () => {
  vitestIt("acquire fails with FileLockError (ENOSPC), leaves no lock file, and works once there is room", async (context) => {
    const disk = smallDisk({ size: "16k" })
    if (typeof disk === "string") return context.skip(disk)
    try {
      const filler = path.join(disk.dir, "filler")
      const fd = fs.openSync(filler, "w")
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(1024, 1))
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC")
      } finally {
        fs.closeSync(fd)
      }
      const file = path.join(disk.dir, "full.lock")
      const exit = await Effect.runPromiseExit(Effect.flatMap(FileLock.make(file), (lock) => lock.acquire))
      expect(Exit.isFailure(exit)).toBe(true)
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      expect((defect as { _tag?: string })._tag).toBe("FileLockError")
      expect(String((defect as Error).message)).toContain("ENOSPC")
      expect(fs.existsSync(file)).toBe(false) // nothing left held
      fs.rmSync(filler)
      const taken = await Effect.runPromise(Effect.flatMap(FileLock.make(file), (lock) => lock.withLock(Effect.succeed("room again"))))
      expect(taken).toBe("room again")
      expect(fs.existsSync(file)).toBe(false)
    } finally {
      disk.unmount()
    }
  })
})

describe("FileLock in Inspect", () => {
  it.live("a named FileLock lists the lock file's holder and this process's waiters, oldest first; they leave the list when served", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "tickets.lock")
      const holder = yield* FileLock.make(file, { stale: "5 seconds" })
      const named = yield* FileLock.make(file, { name: "filelock.tickets", stale: "5 seconds" })
      yield* holder.acquire
      const waiters = []
      for (let i = 0; i < 3; i++) {
        waiters.push(yield* Effect.forkChild(named.withLock(Effect.void)))
        yield* Effect.sleep("5 millis")
      }
      const entryNow = Effect.map(Inspect.snapshot, (s) => s.entries.find((e) => e.name === "filelock.tickets"))
      let entry = yield* entryNow
      while (entry === undefined || entry.waiters.length < 3) {
        yield* Effect.sleep("10 millis")
        entry = yield* entryNow
      }
      assert.strictEqual(entry.kind, "FileLock")
      assert.strictEqual(entry.scope, "process")
      assert.deepStrictEqual(entry.holders.map((h) => h.pid), [process.pid])
      assert.match(entry.holders[0]!.who, new RegExp(`^pid ${process.pid} on `))
      const since = entry.waiters.map((w) => w.since)
      assert.deepStrictEqual(since, [...since].sort((a, b) => a - b))
      yield* holder.release
      for (const w of waiters) yield* Fiber.join(w)
      const after = yield* entryNow
      assert.deepStrictEqual([after?.holders.length, after?.waiters.length], [0, 0])
    })))

  it.effect("a name that is not a non-empty string is an InvalidArgumentError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(FileLock.make("/tmp/x.lock", { name: "" }))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.match(error.message, /name/)
    }))
})
