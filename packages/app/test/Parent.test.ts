// A child stops when its parent dies, however it dies: SIGKILL of the parent closes the
// child's stdin pipe, and a Main.runMain program asked to watch it stops (finalizers run).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { argv } from "../src/Child.ts"
import { env, watch } from "../src/Parent.ts"
import { alive, pollUntil as waitUntil, start } from "@weft/testkit"

const parentFixture = new URL("./fixtures/parent.ts", import.meta.url)
const mainFixture = new URL("./fixtures/main.ts", import.meta.url)


const cleanup: Array<() => void> = []
afterEach(() => {
  for (const f of cleanup.splice(0)) f()
})
const killLater = (pid: number) =>
  cleanup.push(() => {
    try {
      process.kill(pid, "SIGKILL")
    } catch {}
  })
const tempFile = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-parent-"))
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, "finalized")
}

describe("Child.command({ exitWithParent: true }) and Main.runMain", () => {
  it("the parent SIGKILLed: the child's finalizers run and it exits within 5 s", async () => {
    const finalized = tempFile()
    process.env.WEFT_TEST_FINALIZED = finalized
    const parent = start(parentFixture, ["watch"], { stdin: "ignore" })
    delete process.env.WEFT_TEST_FINALIZED
    killLater(parent.proc.pid!)
    const pid = Number(/^child (\d+)$/.exec(await parent.line(/^child \d+$/, 30_000))![1])
    killLater(pid)
    expect(alive(pid)).toBe(true)
    process.kill(parent.proc.pid!, "SIGKILL")
    await parent.closed
    await waitUntil(`the child (pid ${pid}) gone`, () => !alive(pid), 5_000)
    expect(fs.readFileSync(finalized, "utf8")).toBe(`finalized ${pid}\n`)
  }, 40_000)

  it("without it, a child outlives its SIGKILLed parent (nothing changes for programs that do not ask)", async () => {
    const parent = start(parentFixture, ["no-watch"], { stdin: "ignore" })
    killLater(parent.proc.pid!)
    const pid = Number(/^child (\d+)$/.exec(await parent.line(/^child \d+$/, 30_000))![1])
    killLater(pid)
    process.kill(parent.proc.pid!, "SIGKILL")
    await parent.closed
    // A window, not a sleep for a result: the child must still be there after it.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(alive(pid)).toBe(true)
  }, 40_000)

  it("a program run by hand keeps its stdin: its end does not stop it", async () => {
    const [command, ...rest] = argv(mainFixture, ["serve"])
    const environment = { ...process.env }
    delete environment[env]
    const child = spawn(command, rest, { stdio: ["pipe", "pipe", "inherit"], env: environment })
    killLater(child.pid!)
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => void (out += chunk.toString("utf8")))
    await waitUntil("ready", () => out.includes("ready\n"), 30_000)
    child.stdin!.end()
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(child.exitCode).toBeNull()
    expect(alive(child.pid!)).toBe(true)
  }, 40_000)
})

describe("Parent.watch", () => {
  it("takes the request out of the environment at once: children started afterwards do not inherit it", () => {
    const before = process.env[env]
    process.env[env] = "not-a-way" // not "stdin": this process's stdin is left alone
    try {
      watch()
      expect(process.env[env]).toBeUndefined()
    } finally {
      if (before === undefined) delete process.env[env]
      else process.env[env] = before
    }
  })
})
