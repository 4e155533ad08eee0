/// <reference lib="dom" />
// The cluster scope on a throwaway PostgreSQL: the light is a cluster event; `traffic-light cars`
// processes join the run from other "machines" (network namespaces of the test-bed, or plain
// processes with --machine), their cars are tagged with their machine on the page's event stream,
// and none passes on red, including the cars of a machine cut off from the database mid-run.
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Serve } from "@weft/app"
import * as Chromium from "@weft/app/Chromium"
import { argv, type Running, start as startScript } from "@weft/testkit"
import { findBin, startServer } from "@weft/testkit/postgres"
import { database, testbed, unavailable } from "@weft/testkit/testbed"
import * as Invariant from "../src/invariant.ts"
import * as Runs from "../src/runs.ts"
import { makeApp } from "../src/server.ts"
import type { Entry } from "../src/simulation.ts"

const main = new URL("../src/main.ts", import.meta.url)

const noServer = findBin("initdb") === undefined || findBin("pg_ctl") === undefined
  ? "no PostgreSQL server: initdb/pg_ctl not found (install Debian's postgresql)"
  : undefined
if (noServer !== undefined) console.warn(`\n*** traffic-light cluster tests SKIPPED: ${noServer} ***\n`)
const noBed = noServer ?? unavailable()
if (noBed !== undefined && noServer === undefined) console.warn(`\n*** traffic-light test-bed tests SKIPPED: ${noBed} ***\n`)
const skipped = (reason: string | undefined) => (reason === undefined ? "" : ` (skipped: ${reason})`)

/** A server at cluster scope on `url`, as machine `machine`, on a free loopback port, until `close`. */
const serve = async (url: string, machine: string) => {
  const scope = Effect.runSync(Scope.make())
  const { runs, server } = await Effect.runPromise(Scope.provide(
    Effect.gen(function*() {
      const runs = yield* Runs.makeWith({ url, machine })
      const server = yield* Serve.serve(makeApp(runs, {}, { cluster: true }))
      return { runs, server }
    }),
    scope
  ))
  return { runs, url: server.url, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** A run's whole event log, from its `run` update on, as the page's stream sends it; `ready()`: when its clock started (epoch ms). */
const record = (runs: Runs.Runs) => {
  const log: Array<Runs.Update> = []
  let readyAt = 0
  const { unsubscribe } = runs.subscribe((u) => {
    if (u.type === "ready") readyAt = Date.now()
    log.push(u)
  })
  return { log, unsubscribe, ready: () => readyAt }
}

const passes = (entries: ReadonlyArray<Entry>) => entries.flatMap((e) => (e.kind === "pass" ? [e] : []))

const stop = async (child: Running) => {
  if (child.exit() === undefined) child.proc.kill("SIGKILL")
  await child.exited
}

describe(`traffic light at cluster scope${skipped(noServer)}`, () => {
  let pg: ReturnType<typeof startServer> | undefined
  beforeAll(() => {
    if (noServer === undefined) pg = startServer()
  }, 60_000)
  afterAll(() => pg?.stop?.())

  it.skipIf(noServer !== undefined)("a run with this machine's cars and 3 cars joined by another process (--machine): the joined cars are on the event stream with their machine, every car passes, none on red; one light per cluster at a time", async () => {
    const url = pg!.url!
    const light = await serve(url, "here")
    const cars = startScript(main, ["cars", "--cluster", url, "--count", "3", "--machine", "there"])
    try {
      const { log, unsubscribe } = record(light.runs)
      await cars.line("there: 3 cars waiting to join a run", 30_000)
      // The cars process waits for a run: it joins once the light announces one.
      const config = { scope: "cluster", cars: 2, green: "600ms", red: "600ms", duration: "9s" }
      const response = await fetch(`${light.url}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(config) })
      expect(response.status).toBe(202)
      await Effect.runPromise(Effect.repeat(Effect.sleep(20), { until: () => log.some((u) => u.type === "ready") }).pipe(Effect.timeout(30_000)))
      // A second instance's light on the same cluster waits 5 s for this one, then is refused.
      const other = await Effect.runPromise(Effect.exit(Effect.scoped(Effect.gen(function*() {
        const runs = yield* Runs.makeWith({ url, machine: "elsewhere" })
        yield* runs.start({ scope: "cluster", cars: 1, green: 600, red: 600, duration: 600 })
        return yield* Runs.ended(runs)
      }))))
      expect(Exit.isSuccess(other) && other.value.status).toBe("failed")
      expect(Exit.isSuccess(other) && other.value.error).toMatch(/another instance's light is running on this cluster/)

      const run = await Effect.runPromise(Runs.ended(light.runs))
      unsubscribe()
      const exit = await cars.exited
      expect(exit.code, cars.report()).toBe(0)
      expect(run.status, run.error).toBe("done")
      expect(run.joins).toEqual([{ machine: "there", first: 3, count: 3 }])
      const join = log.find((u) => u.type === "join")
      expect(join).toMatchObject({ type: "join", machine: "there", first: 3, count: 3 })
      // The join comes before any of its cars' entries.
      const joinAt = log.indexOf(join!)
      const theirs = log.flatMap((u, i) => (u.type === "entry" && "machine" in u.entry && u.entry.machine === "there" ? [i] : []))
      expect(theirs.length).toBe(6) // each of 3 cars arrives and passes
      expect(Math.min(...theirs)).toBeGreaterThan(joinAt)
      // Every car, local and remote, passed once, tagged with its machine; the verdict covers them all.
      const passed = passes(run.entries)
      expect(passed.map((p) => [p.car, p.machine]).sort()).toEqual([[1, "here"], [2, "here"], [3, "there"], [4, "there"], [5, "there"]])
      expect(Invariant.check(run.entries)).toEqual({ ok: true, violations: [] })
      expect(run.verdict.ok).toBe(true)
      expect(run.summary).toMatch(/end: 5 of 5 cars passed/)
      // The stream's text names the machine; the cars process printed the same lines and its tally.
      const texts = log.flatMap((u) => (u.type === "entry" ? [u.text] : []))
      expect(texts.some((t) => /car 4 \(there\) (passes|arrives)/.test(t))).toBe(true)
      expect(cars.stdout()).toMatch(/there: left run \S+: 3 of 3 cars passed/)
      // And GET /runs/current says the same.
      const current = (await (await fetch(`${light.url}/runs/current`)).json()) as Runs.Run
      expect(current.joins).toEqual(run.joins)
      expect(current.verdict.ok).toBe(true)
      expect(JSON.stringify(current)).not.toContain(url) // the cluster's URL stays on the server
    } finally {
      await stop(cars)
      await light.close()
    }
  }, 90_000)

  it.skipIf(noServer !== undefined || !Chromium.available)(
    Chromium.skipTitle("in Chromium, the page offers the cluster scope and shows each joined car with its machine; the badge stays green"),
    async () => {
      const url = pg!.url!
      const light = await serve(url, "here")
      const cars = startScript(main, ["cars", "--cluster", url, "--count", "2", "--machine", "lights-2"])
      const browser = await Chromium.open()
      try {
        await cars.line("lights-2: 2 cars waiting to join a run", 30_000)
        const page = await browser.newPage()
        await page.goto(light.url)
        await page.waitForFunction(() => document.body.dataset.live === "true")
        expect(await page.inputValue("select[name=scope]")).toBe("cluster")
        await page.fill("input[name=cars]", "1")
        await page.fill("input[name=green]", "500ms")
        await page.fill("input[name=red]", "500ms")
        await page.fill("input[name=duration]", "4s")
        await page.click("#go")
        await page.waitForSelector(`#status[data-run="1"][data-state=done]`, { timeout: 40_000 })
        const chips: Array<{ car: string; machine: string; text: string; lane: string }> = await page.$$eval(".car", (els) =>
          els.map((el) => ({
            car: (el as HTMLElement).dataset.car!,
            machine: (el as HTMLElement).dataset.machine ?? "",
            text: el.textContent!,
            lane: el.parentElement!.id
          })))
        expect(chips.sort((a, b) => Number(a.car) - Number(b.car))).toEqual([
          { car: "1", machine: "here", text: "car 1 · here", lane: "passed" },
          { car: "2", machine: "lights-2", text: "car 2 · lights-2", lane: "passed" },
          { car: "3", machine: "lights-2", text: "car 3 · lights-2", lane: "passed" }
        ])
        expect(await page.getAttribute("#badge", "data-ok")).toBe("true")
        expect(await page.textContent("#timeline")).toContain("2 cars of lights-2 join: car 2 to 3")
      } finally {
        await browser.close()
        await stop(cars)
        await light.close()
      }
    },
    90_000
  )

  it.skipIf(noServer !== undefined)("the light's instance dies (SIGKILL) mid-run: the joined cars process sees its lock released, stops its cars and leaves at once", async () => {
    const url = pg!.url!
    const light = startScript(main, ["--cluster", url, "--machine", "light", "--cars", "1", "--green", "1s", "--red", "1s", "--duration", "60s"])
    const cars = startScript(main, ["cars", "--cluster", url, "--count", "5", "--machine", "there"])
    try {
      await cars.line(/there: joined run/, 30_000)
      await light.line("car 2 (there) arrives", 30_000)
      light.proc.kill("SIGKILL")
      const killed = Date.now()
      const left = await cars.line(/there: left run/, 20_000)
      expect(left).toMatch(/the light is gone; still waiting: car/)
      expect((await cars.exited).code).toBe(0)
      // At once: the server releases a dead connection's locks when it closes (well before the run's 60 s).
      expect(Date.now() - killed).toBeLessThan(10_000)
    } finally {
      await stop(cars)
      await stop(light)
    }
  }, 60_000)

  it.skipIf(noServer !== undefined)("PostgreSQL goes away mid-run: the run ends as failed, saying it lost the cluster, and the next run can start", async () => {
    const own = startServer()
    let stopped = false
    const light = await serve(own.url!, "here")
    try {
      await Effect.runPromise(light.runs.start({ scope: "cluster", cars: 3, green: 500, red: 500, duration: 30_000 }))
      await Effect.runPromise(Effect.repeat(Effect.sleep(50), { until: () => light.runs.current()?.entries.some((e) => e.kind === "green") === true }).pipe(Effect.timeout(30_000)))
      own.stop!()
      stopped = true
      const run = await Effect.runPromise(Runs.ended(light.runs).pipe(Effect.timeout(20_000)))
      expect(run.status).toBe("failed")
      expect(run.error).toMatch(/lost the cluster/)
      // Not stuck: the server takes the next run.
      await Effect.runPromise(light.runs.start({ scope: "fiber", cars: 1, green: 100, red: 100, duration: 300 }))
      expect((await Effect.runPromise(Runs.ended(light.runs))).status).toBe("done")
    } finally {
      await light.close()
      if (!stopped) own.stop?.()
    }
  }, 90_000)

  it.skipIf(noServer !== undefined)("bad flags: --cluster that is not a PostgreSQL URL, a cluster run without --cluster (exit 2, naming the flag)", async () => {
    const bad = startScript(main, ["cars", "--cluster", "http://db.example/weft"])
    expect((await bad.closed).code).toBe(2)
    expect(bad.stderr()).toContain(`--cluster: "http://db.example/weft" is not a PostgreSQL URL: its scheme is http: and must be postgres:`)
    const none = startScript(main, ["--scope", "cluster"])
    expect((await none.closed).code).toBe(2)
    expect(none.stderr()).toContain("--scope cluster: needs --cluster URL")
  }, 30_000)
})

describe(`traffic light at cluster scope, cars on other machines (network namespaces)${skipped(noBed)}`, () => {
  it.skipIf(noBed !== undefined)("two machines join over their own links; one is cut off mid-run: it says its cars stopped and exits 1, none of its cars passes after the cut, the other machine's cars all pass, and no car passed on red", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const bed = yield* testbed(2)
      // The machines reach PostgreSQL on the gateway over their back links; the light, on its Unix socket.
      const { local, remote } = yield* database(bed)
      const light = yield* Effect.acquireRelease(Effect.promise(() => serve(local, "root")), (l) => Effect.promise(l.close))
      const joined = (i: number, count: number) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const args = ["cars", "--cluster", remote, "--count", String(count), "--machine", `m${i}`]
            return startScript(main, args, { command: ["ip", "netns", "exec", bed.machines[i - 1]!.ns, ...argv(main, args)], lines: "both" })
          }),
          (c) => Effect.promise(() => stop(c))
        )
      const m1 = yield* joined(1, 3)
      const m2 = yield* joined(2, 4)
      yield* Effect.promise(() => Promise.all([m1.line("m1: 3 cars waiting", 30_000), m2.line("m2: 4 cars waiting", 30_000)]))
      const { log, unsubscribe, ready } = record(light.runs)
      // 20 s of 1 s phases; m2 is cut 3 s in, and its lease gives up 5 s later.
      yield* light.runs.start({ scope: "cluster", cars: 2, green: 1_000, red: 1_000, duration: 20_000 })
      yield* Effect.promise(() => Promise.all([m1.line(/m1: joined run/, 30_000), m2.line(/m2: joined run/, 30_000)]))
      yield* Effect.promise(() => m2.line(/car \d+ \(m2\) passes/, 30_000))
      const cutRun = Date.now()
      const cutT = cutRun - ready()
      yield* bed.cut(2)
      const told = yield* Effect.promise(() => m2.line(/m2 lost the cluster/, 30_000))
      const toldAfter = Date.now() - cutRun
      expect(told).toMatch(/cars stopped/)
      const m2exit = yield* Effect.promise(() => m2.exited)
      expect(m2exit.code, m2.report()).toBe(1)
      const run = yield* Runs.ended(light.runs)
      unsubscribe()
      expect((yield* Effect.promise(() => m1.exited)).code, m1.report()).toBe(0)
      console.log(`cut-off machine told ${toldAfter} ms after the cut`)
      // Told within half the partition bound (5 s) and the 3 s it gives its connections to close, with room for a loaded machine.
      expect(toldAfter).toBeLessThan(5_000 + 3_000 + 7_000)

      expect(run.status, run.error).toBe("done")
      expect(run.joins.map((j) => j.machine).sort()).toEqual(["m1", "m2"])
      const passed = passes(run.entries)
      const by = (m: string) => passed.filter((p) => p.machine === m)
      expect(by("root").length).toBe(2)
      expect(by("m1").length).toBe(3)
      // m2's cars: none passed after the cut (the light's later greens never reached them)...
      for (const p of by("m2")) expect(p.t, `car ${p.car} of m2`).toBeLessThanOrEqual(cutT + 100)
      // ...and in the cut-off process's own output neither: every pass it printed is from before.
      const m2passes = m2.stdout().split("\n").filter((l) => /\(m2\) passes at/.test(l)).map((l) => Number(/passes at (\d+\.\d+)s/.exec(l)![1]) * 1000)
      for (const t of m2passes) expect(t).toBeLessThanOrEqual(cutT + 100)
      expect(by("m2").length).toBeLessThan(4)
      // Every pass of every machine in a green: the badge's check, over all of them.
      expect(Invariant.check(run.entries)).toEqual({ ok: true, violations: [] })
      expect(run.summary).toMatch(/still waiting: car/)
      // The stream tagged every car of m1 with its machine.
      expect(log.filter((u) => u.type === "entry" && u.entry.kind === "pass" && u.entry.machine === "m1").length).toBe(3)
    }))), 180_000)

  it.skipIf(noBed !== undefined)("the light's machine is cut off mid-run: its run fails, saying it lost the cluster, and the cars elsewhere learn that the light is gone once the server lets go of its lock", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const bed = yield* testbed(1)
      const { local, remote } = yield* database(bed)
      const args = ["--cluster", remote, "--machine", "m1", "--cars", "1", "--green", "1s", "--red", "1s", "--duration", "60s"]
      const light = yield* Effect.acquireRelease(
        Effect.sync(() => startScript(main, args, { command: ["ip", "netns", "exec", bed.machines[0]!.ns, ...argv(main, args)], lines: "both" })),
        (c) => Effect.promise(() => stop(c))
      )
      const cars = yield* Effect.acquireRelease(
        Effect.sync(() => startScript(main, ["cars", "--cluster", local, "--count", "5", "--machine", "root"])),
        (c) => Effect.promise(() => stop(c))
      )
      yield* Effect.promise(() => cars.line(/root: joined run/, 60_000))
      yield* Effect.promise(() => light.line("light turns GREEN", 30_000))
      const cut = Date.now()
      yield* bed.cut(1)
      const failed = yield* Effect.promise(() => light.line(/lost the cluster/, 30_000))
      const failedAfter = Date.now() - cut
      expect(failed).toMatch(/^traffic-light: this machine lost the cluster: ClusterLock "traffic-light\/running" was lost/)
      const left = yield* Effect.promise(() => cars.line(/root: left run/, 30_000))
      const leftAfter = Date.now() - cut
      console.log(`light told ${failedAfter} ms after the cut; the cars elsewhere left ${leftAfter} ms after it`)
      expect(left).toMatch(/the light is gone/)
      expect((yield* Effect.promise(() => light.exited)).code, light.report()).toBe(1)
      expect((yield* Effect.promise(() => cars.exited)).code, cars.report()).toBe(0)
      // The light is told within half the partition bound (and 3 s to close), the others within the bound (10 s), plus room for load.
      expect(failedAfter).toBeLessThan(5_000 + 3_000 + 7_000)
      expect(leftAfter).toBeLessThan(10_000 + 5_000)
    }))), 180_000)
})
