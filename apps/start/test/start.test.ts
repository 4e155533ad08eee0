/// <reference lib="dom" />
// npm start for real, from the repository root, on free ports (0), with a fresh
// data directory: on Node through `npm start -- ...` itself (the root script), on
// Bun and Deno the launcher on that runtime (so the apps run on it too). Every
// address it prints must answer, and SIGTERM must leave no process of its tree
// behind.
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Chromium from "@weft/app/Chromium"
import * as EventStream from "@weft/app/EventStream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Runtime } from "@weft/app"
import { alive, commandLine, descendants, launch, launchToBanner, marked, procAvailable, type Running } from "./processes.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const script = path.join(root, "apps/start/src/main.ts")
const via = Runtime.current === "node" ? "npm" : "runtime"
/** Every process a launcher starts inherits this variable: a scan of /proc finds any left behind. */
const mark = "WEFT_START_TEST"
/** npm start passes its environment on: this token enables the ticket office's reset. */
const token = "start-test-token"
const free = ["--port", "0", "--chat-port", "0", "--irc-port", "0", "--chat-http-port", "0", "--tickets-port", "0", "--traffic-port", "0"]

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe(`npm start, from the repository root (${via === "npm" ? "npm start" : `the launcher on ${Runtime.current}`})`, () => {
  let data: string
  let running: Running
  let banner: string

  beforeAll(async () => {
    data = fs.mkdtempSync(path.join(os.tmpdir(), "weft-start-"))
    ;({ running, banner } = await launchToBanner(script, [...free, "--workers", "1", "--no-build", "--data", data], root, via, { [mark]: data, TICKETING_ADMIN_TOKEN: token }))
  }, 110_000)

  afterAll(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      const tree = descendants(running.child.pid!)
      running.child.kill("SIGKILL")
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {}
      }
    }
    if (data) fs.rmSync(data, { recursive: true, force: true })
  })

  it("prints every address, with an nc line and an IRC line for the chat, and each answers", async () => {
    const urls = [...banner.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0])
    expect(urls).toHaveLength(4) // the landing page, the chat's web page, the tickets, the traffic light
    for (const label of ["landing page", "chat (web)", "tickets", "traffic light"]) expect(banner).toMatch(new RegExp(`^  ${label.replace(/[()]/g, "\\$&")} +http://`, "m"))
    for (const url of urls) {
      // Each answers its page (a chat without its web page yet answers 404 there) and its health route with 200.
      const page = await fetch(`${url}/`)
      await page.body?.cancel()
      expect(page.status, `${url}/`).toBeLessThan(500)
      const health = await fetch(`${url}/health`)
      await health.body?.cancel()
      expect(health.status, `${url}/health`).toBe(200)
    }
    const nc = /^ {2}chat \(nc\) +nc 127\.0\.0\.1 (\d+)$/m.exec(banner)
    const irc = /^ {2}chat \(IRC\) +irssi -c 127\.0\.0\.1 -p (\d+)/m.exec(banner)
    expect(nc, banner).not.toBeNull()
    expect(irc, banner).not.toBeNull()
    expect(await connects(Number(nc![1]))).toBe(true)
    expect(await connects(Number(irc![1]))).toBe(true)
    // The ticket store is under --data.
    expect(fs.readdirSync(data).length).toBeGreaterThan(0)
  })

  it("the ticket office's reset works with TICKETING_ADMIN_TOKEN from npm start's environment, and only with it", async () => {
    const tickets = /^ {2}tickets +(http:\/\/\S+)$/m.exec(banner)![1]!
    const reset = (authorization?: string) =>
      fetch(`${tickets}/reset`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify({ count: 7 })
      })
    expect((await reset()).status).toBe(401)
    expect((await reset("Bearer wrong")).status).toBe(401)
    expect((await reset(`Bearer ${token}`)).status).toBe(200)
    expect(await (await fetch(`${tickets}/tickets`)).json()).toMatchObject({ count: 7, sold: 0, total: 7 })
  })

  it("the landing page's status says every app is up", async () => {
    const landing = /^ {2}landing page +(http:\/\/\S+)$/m.exec(banner)![1]!
    await waitUntil("every app up", async () => {
      const { apps } = await (await fetch(`${landing}/status`)).json() as { apps: Array<{ name: string; up: boolean }> }
      return apps.length === 3 && apps.every((a) => a.up)
    }, 30_000)
  })

  it("a second npm start says which port is taken, and exits 1 without starting anything", async () => {
    const landingPort = /^ {2}landing page +http:\/\/127\.0\.0\.1:(\d+)$/m.exec(banner)![1]!
    const second = launch(script, [...free.slice(2), "--port", landingPort, "--no-build", "--data", data], root)
    expect(await second.exited).toBe(1)
    expect(second.stderr()).toContain(`port ${landingPort} (the landing page, --port) is taken`)
    expect(second.stderr()).toContain("is another npm start running?")
    expect(second.stdout()).not.toContain("Weft is running")
  }, 60_000)

  it.skipIf(!Chromium.available)(Chromium.skipTitle("the landing page in Chromium: a card per app, each up, with its links"), async () => {
    const landing = /^ {2}landing page +(http:\/\/\S+)$/m.exec(banner)![1]!
    const browser = await Chromium.open()
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 640 } })
      await page.goto(`${landing}/`)
      await page.waitForFunction(() => document.querySelectorAll('.app[data-up="true"]').length === 3, undefined, { timeout: 30_000 })
      const links = await page.$$eval(".app a", (as) => as.map((a) => (a as HTMLAnchorElement).href))
      expect(links).toHaveLength(3)
      expect(await page.textContent('.app[data-name="chat"]')).toMatch(/nc 127\.0\.0\.1 \d+/)
      await page.screenshot({ path: path.join(root, "apps/start/.results/landing.png"), fullPage: true })
      await page.setViewportSize({ width: 390, height: 844 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    } finally {
      await browser.close()
    }
  }, 90_000)

  it("the inspector's stream shows every app's processes, each labelled; each app's /inspect and /metrics answer", async () => {
    const landing = /^ {2}landing page +(http:\/\/\S+)$/m.exec(banner)![1]!
    const latest = new Map<string, any>()
    await EventStream.collect(`${landing}/inspector/events`, {
      event: "app",
      until: (seen) => {
        for (const update of seen) latest.set(update.name, update)
        return ["chat", "tickets", "traffic"].every((name) => latest.get(name)?.up)
      },
      timeout: 30_000
    })
    const labels = (name: string) => latest.get(name)?.view.processes.map((p: { label: string }) => p.label)
    expect(labels("chat")).toEqual(["chat-server"])
    expect(labels("tickets")).toEqual(["ticketing"]) // --workers 1: one process
    expect(labels("traffic")).toEqual(["traffic-light"])
    for (const label of ["chat (web)", "tickets", "traffic light"]) {
      const url = new RegExp(`^  ${label.replace(/[()]/g, "\\$&")} +(http://\\S+)$`, "m").exec(banner)![1]!
      const inspect = await (await fetch(`${url}/inspect`)).json() as { processes: Array<{ pid: number }> }
      expect(inspect.processes.length, `${url}/inspect`).toBeGreaterThan(0)
      const metrics = await fetch(`${url}/metrics`)
      expect(metrics.headers.get("content-type"), `${url}/metrics`).toContain("text/plain; version=0.0.4")
      await metrics.body?.cancel()
    }
  }, 60_000)

  it.skipIf(!Chromium.available)(Chromium.skipTitle("the inspector page in Chromium: a traffic-light run's named pool, event and queue at process scope, live"), async () => {
    const landing = /^ {2}landing page +(http:\/\/\S+)$/m.exec(banner)![1]!
    const traffic = /^ {2}traffic light +(http:\/\/\S+)$/m.exec(banner)![1]!
    const run = await fetch(`${traffic}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scope: "process", cars: 4, duration: "20s", green: "1s", red: "3s" })
    })
    expect(run.status).toBe(202)
    const browser = await Chromium.open()
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } })
      const problems = await Chromium.watch(page)
      await page.goto(`${landing}/inspector`)
      await page.waitForSelector('[data-app="traffic"] .entry[data-name="cars"]', { timeout: 30_000 })
      await page.waitForSelector('[data-app="traffic"] .entry[data-name="traffic light"]', { timeout: 10_000 })
      await page.waitForFunction(() => document.querySelectorAll('section[data-app][data-up="true"]').length === 3, undefined, { timeout: 30_000 })
      expect(await page.textContent('[data-app="traffic"] .entry[data-name="cars"]')).toMatch(/workers 4/)
      // For the screenshot: a car waiting at the red light, if one comes (it depends on when they arrive).
      await page.waitForSelector('[data-app="traffic"] .entry[data-name="traffic light"] .waiter', { timeout: 15_000 }).catch(() => {})
      await page.screenshot({ path: path.join(root, "apps/start/.results/inspector-start.png"), fullPage: true })
      expect(problems()).toEqual([])
    } finally {
      await browser.close()
    }
  }, 90_000)

  it.skipIf(!procAvailable)(`an app that dies shows down on the landing page; the launcher says so and keeps the others${procAvailable ? "" : " (skipped: no /proc)"}`, async () => {
    const landing = /^ {2}landing page +(http:\/\/\S+)$/m.exec(banner)![1]!
    const traffic = descendants(running.child.pid!).find((pid) => commandLine(pid).includes("apps/traffic-light/src/main.ts"))
    expect(traffic).toBeDefined()
    process.kill(traffic!, "SIGKILL")
    await waitUntil("the launcher reports the traffic light's exit", () => /\[traffic\] exited with code/.test(running.stderr()), 15_000)
    await waitUntil("the landing page shows it down, the others up", async () => {
      const { apps } = await (await fetch(`${landing}/status`)).json() as { apps: Array<{ name: string; up: boolean }> }
      return apps.every((a) => a.up === (a.name !== "traffic"))
    }, 15_000)
    expect(running.child.exitCode).toBeNull()
  }, 40_000)

  it.skipIf(!procAvailable)(`SIGTERM stops everything and leaves no process behind${procAvailable ? "" : " (skipped: no /proc to read the process tree)"}`, async () => {
    const tree = descendants(running.child.pid!)
    // The chat (with its worker), the ticket office, at least (the traffic light was killed above).
    expect(tree.length).toBeGreaterThanOrEqual(3)
    expect(marked(mark, data).length).toBeGreaterThanOrEqual(3) // the scan below finds what is there
    // process.kill, not child.kill: Deno's ChildProcess reports the signal it sent as the cause of exit.
    process.kill(running.child.pid!, "SIGTERM")
    // npm dies of the SIGTERM (it does not pass it on); the launcher sees its parent gone and stops everything.
    const code = await running.exited
    if (via === "runtime") expect(code).toBe(0)
    await waitUntil(`every process of the tree (${tree.join(", ")}) gone`, () => tree.every((pid) => !alive(pid)), 20_000)
    expect(marked(mark, data)).toEqual([])
  }, 40_000)
})

describe.skipIf(!procAvailable)(`npm start when an app cannot start${procAvailable ? "" : " (skipped: no /proc)"}`, () => {
  it("a corrupt ticket store: exit 1 naming the app and what it printed, the others stopped, nothing left running", async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "weft-start-bad-"))
    try {
      fs.writeFileSync(path.join(data, "tickets.json"), "not a ticket store\n")
      const run = launch(script, [...free, "--workers", "1", "--no-build", "--data", data], root, "runtime", { [mark]: data })
      expect(await run.exited).toBe(1)
      expect(run.stderr()).toMatch(/^npm start: Ticket office did not start: it exited with code 1$/m)
      expect(run.stderr()).toContain("tickets.json")
      expect(run.stdout()).not.toContain("Weft is running")
      await waitUntil("no process of that launcher left", () => marked(mark, data).length === 0, 15_000)
      expect(fs.readFileSync(path.join(data, "tickets.json"), "utf8")).toBe("not a ticket store\n") // left as it was
    } finally {
      fs.rmSync(data, { recursive: true, force: true })
    }
  }, 120_000)
})
