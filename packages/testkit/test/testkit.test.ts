import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { it as vitestIt } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { aliveSame, argv, child, execArgv, processIdentity, procAvailable, runtime, smallDisk, start } from "@weft/testkit"

const echo = new URL("./fixtures/echo.ts", import.meta.url)

describe("runtime", () => {
  it("argv runs a script on this runtime (Deno: run -A)", () => {
    assert.deepStrictEqual(argv("/x/main.ts", ["a"]), [process.execPath, ...execArgv, "/x/main.ts", "a"])
    assert.deepStrictEqual(execArgv, runtime === "deno" ? ["run", "-A"] : [])
  })
})

describe("child", () => {
  it.live("a fixture importing the kit runs on this runtime; lines are waited for, taken, and sent", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = yield* child(echo, [], { lines: "both" })
      assert.strictEqual(yield* c.line("runtime ", 30_000), `runtime ${runtime}`)
      assert.strictEqual(yield* c.line(/^ready on (\w+)$/), "ready on stderr", "stderr is watched when asked")
      yield* c.send("one")
      yield* c.send("one")
      assert.strictEqual(yield* c.line((l) => l === "got one", undefined, { take: true }), "got one")
      assert.strictEqual(yield* c.line((l) => l === "got one", undefined, { take: true }), "got one", "the second one")
      yield* c.send("exit 3")
      assert.strictEqual(yield* c.exited, 3)
    })), 40_000)

  it.live("a line never printed: fails when the child exits, with what it printed; or after the timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const c = yield* child(echo)
      yield* c.line("runtime ", 30_000)
      const late = yield* Effect.flip(c.line("never", 300))
      assert.include(late.message, "timed out after 300 ms")
      assert.include(late.message, "runtime ")
      yield* c.send("exit 0")
      const early = yield* Effect.flip(c.line("never"))
      assert.include(early.message, "exited (0) before printing \"never\"")
      assert.include(early.message, "ready on stderr")
    })), 40_000)

  it.live.skipIf(!procAvailable)(`the scope's end kills and awaits it; its identity then runs no more${procAvailable ? "" : " (skipped: no /proc)"}`, () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const c = yield* Scope.provide(child(echo), scope)
      yield* c.line("runtime ", 30_000)
      const identity = processIdentity(c.proc.pid!)
      assert.isTrue(aliveSame(identity))
      assert.isFalse(aliveSame({ pid: c.proc.pid!, start: "0" }), "another start time is another process")
      yield* Scope.close(scope, Exit.void)
      assert.isNotNull(c.proc.signalCode ?? c.proc.exitCode, "exited when the scope closed")
      assert.isFalse(aliveSame(identity))
    }), 40_000)
})

describe("start", () => {
  vitestIt("the Promise face: a matching line, then the exit with all output read", async () => {
    const running = start(echo, [], { stderr: "pipe" })
    try {
      assert.strictEqual(await running.line(/^runtime/, 30_000), `runtime ${runtime}`)
      running.send("exit 0")
      assert.deepStrictEqual(await running.closed, { code: 0, signal: null })
      assert.include(running.stderr(), "ready on stderr")
    } finally {
      running.proc.kill("SIGKILL")
    }
  }, 40_000)
})

describe("smallDisk", () => {
  vitestIt("a small tmpfs fills up (ENOSPC), and is gone after unmount", (context) => {
    const disk = smallDisk({ size: "16k" })
    if (typeof disk === "string") return context.skip(disk)
    try {
      const fd = fs.openSync(path.join(disk.dir, "filler"), "w")
      let error: NodeJS.ErrnoException | undefined
      try {
        for (let i = 0; i < 1_000; i++) fs.writeSync(fd, Buffer.alloc(512, 1))
      } catch (e) {
        error = e as NodeJS.ErrnoException
      } finally {
        fs.closeSync(fd)
      }
      assert.strictEqual(error?.code, "ENOSPC")
    } finally {
      disk.unmount()
    }
    assert.isFalse(fs.existsSync(disk.dir))
  })
})
