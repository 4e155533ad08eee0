import { Cause, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { describe as describeCause, exitCode } from "../src/Main.ts"
import { ParentGone } from "../src/Parent.ts"
import { start } from "@weft/testkit"

const fixture = new URL("./fixtures/main.ts", import.meta.url)

describe("exitCode", () => {
  it("0 on success and on a stop asked for by a signal; 130 interrupted otherwise; the error's code or 1", () => {
    expect(exitCode(Exit.succeed(1), false)).toBe(0)
    expect(exitCode(Exit.fail(new ParentGone({ how: "stdin closed" })), false)).toBe(0) // its parent is gone: a stop, not a failure
    expect(exitCode(Exit.interrupt(1), true)).toBe(0)
    expect(exitCode(Exit.interrupt(1), false)).toBe(130)
    expect(exitCode(Exit.fail(new Error("x")), true)).toBe(1)
    const usage = Object.assign(new Error("bad flag"), { "~effect/Runtime/errorExitCode": 2 })
    expect(exitCode(Exit.fail(usage), false)).toBe(2)
  })

  it("describe: the error's message, else the pretty cause", () => {
    expect(describeCause(Cause.fail(new Error("port taken")))).toBe("port taken")
    expect(describeCause(Cause.fail("plain"))).toContain("plain")
  })
})

describe("runMain, as a child process", () => {
  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)("%s: the finalizers run, exit code 0", async (signal) => {
    const main = start(fixture, ["serve"], { stdin: "ignore" })
    await main.line(/^ready$/)
    // process.kill, not child.kill: Deno's ChildProcess reports the signal it sent as the cause of exit.
    process.kill(main.proc.pid!, signal)
    const { code } = await main.closed
    expect(main.stdout().split("\n")).toContain("finalized")
    expect(main.stderr()).toBe("")
    expect(code).toBe(0)
  })

  it("a failure prints one line `name: message` and exits with the error's code", async () => {
    const main = start(fixture, ["fail"], { stdin: "ignore" })
    const { code } = await main.closed
    expect(code).toBe(2)
    expect(main.stderr().trim()).toBe(`fixture: --port: "x" is not a port`)
  })

  it("a defect exits 1 with its message", async () => {
    const main = start(fixture, ["defect"], { stdin: "ignore" })
    const { code } = await main.closed
    expect(code).toBe(1)
    expect(main.stderr().trim()).toBe("fixture: boom")
  })

  it("success exits 0 on its own", async () => {
    const main = start(fixture, ["ok"], { stdin: "ignore" })
    const { code } = await main.closed
    expect(code).toBe(0)
    expect(main.stdout()).toBe("done\n")
  })
})
