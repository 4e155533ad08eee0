import { spawnSync } from "node:child_process"
import { Effect, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { describe, expect, it } from "vitest"
import { argv, command, execArgv, layer } from "../src/Child.ts"
import * as Runtime from "../src/Runtime.ts"
import { exists as alive } from "@weft/testkit"

const fixture = new URL("./fixtures/child.ts", import.meta.url)

describe(`Child on ${Runtime.current}`, () => {
  it("execArgv: Deno needs run -A, Node and Bun nothing", () => {
    expect(execArgv).toEqual(Runtime.current === "deno" ? ["run", "-A"] : [])
  })

  it("argv runs a script on this same runtime, with its arguments", () => {
    const [program, ...args] = argv(fixture, ["a", "b c"])
    expect(program).toBe(process.execPath)
    const result = spawnSync(program, args, { encoding: "utf8", timeout: 15_000 })
    expect(result.status).toBe(0)
    const printed = JSON.parse(result.stdout)
    expect(printed.runtime).toBe(Runtime.current)
    expect(printed.args).toEqual(["a", "b c"])
  })

  it("command: Effect's ChildProcess; closing the scope stops the child", async () => {
    const pid = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      const handle = yield* spawner.spawn(command(fixture, ["wait"]))
      const first = yield* handle.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runHead)
      const printed = JSON.parse(first._tag === "Some" ? first.value : "{}")
      expect(printed.runtime).toBe(Runtime.current)
      expect(printed.args).toEqual(["wait"])
      expect(alive(printed.pid)).toBe(true)
      return printed.pid as number
    })).pipe(Effect.provide(layer)))
    expect(alive(pid)).toBe(false) // release waited for it to exit
  })
})
