// Workers: a node:cluster primary's workers, supervised. The fixture is a real
// cluster program run as a child on the suite's runtime.
import { afterEach, describe, expect, it } from "vitest"
import { alive, pollUntil as waitUntil, type Running, start as startScript } from "@weft/testkit"

const fixture = new URL("./fixtures/workers.ts", import.meta.url)


const started: Array<Running> = []
afterEach(() => {
  for (const r of started.splice(0)) {
    if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill("SIGKILL")
  }
})
const start = (mode: string, count: number) => {
  const r = startScript(fixture, [mode, String(count)], { stdin: "ignore" })
  started.push(r)
  return r
}
const pidsOf = (line: string) => line.replace(/.* pids /, "").split(",").map(Number)

describe("Workers", () => {
  it("forks N workers that share one port, replaces one that dies after listening, and stops them all on SIGTERM", async () => {
    const primary = start("ok", 2)
    const line = await primary.line(/^started port \d+ pids /, 30_000)
    const port = Number(/port (\d+)/.exec(line)![1])
    const pids = pidsOf(line)
    expect(pids).toHaveLength(2)
    expect(primary.stdout().match(/worker \d+ pid \d+ listening/g)).toHaveLength(2)
    const answer = await (await fetch(`http://127.0.0.1:${port}/`)).text()
    expect(pids).toContain(Number(answer))

    process.kill(pids[0]!, "SIGKILL")
    await primary.line(new RegExp(`pid ${pids[0]} exited \\(SIGKILL\\); starting a replacement`), 15_000)
    await waitUntil("a third worker listening", () => (primary.stdout().match(/worker \d+ pid \d+ listening/g) ?? []).length === 3, 20_000)
    const all = [...primary.stdout().matchAll(/worker \d+ pid (\d+) listening/g)].map((m) => Number(m[1]))
    const replacement = all.find((pid) => !pids.includes(pid))!

    // process.kill, not child.kill: Deno's ChildProcess reports the signal it sent as the cause of exit.
    process.kill(primary.proc.pid!, "SIGTERM")
    expect((await primary.closed).code).toBe(0)
    await waitUntil("every worker gone", () => ![pids[1]!, replacement].some(alive), 10_000)
  }, 60_000)

  it("a worker that dies before it listens fails the start, naming it, instead of looping", async () => {
    const primary = start("die-early", 2)
    const { code } = await primary.closed
    expect(code).toBe(1)
    expect(primary.stderr()).toMatch(/worker \d+ pid \d+ exited \(code 3\) before it listened/)
    expect(primary.stdout()).not.toMatch(/starting a replacement/)
  }, 60_000)
})
