/// <reference lib="dom" />
// npm start off loopback: `--host 0.0.0.0 --public-host NAME` on free ports (the
// launcher on this runtime, the apps as its children). It prints, and the landing
// page links, the public name; every address answers through 127.0.0.1 (tests
// connect nowhere else); a foreign Host gets 421; the landing page runs under
// its CSP with a clean console and fits a phone. Stopped with SIGTERM.
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Chromium from "@weft/app/Chromium"
import * as Hostile from "@weft/app/Hostile"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Options, parse, UsageError } from "../src/cli.ts"
import { checkHosts } from "../src/launcher.ts"
import { descendants, launchToBanner, type Running } from "./processes.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const script = path.join(root, "apps/start/src/main.ts")
const free = ["--port", "0", "--chat-port", "0", "--irc-port", "0", "--chat-http-port", "0", "--tickets-port", "0", "--traffic-port", "0"]

/** Every `http://weft.test:PORT` the banner shows, as the label and the port. */
const addresses = (banner: string) => [...banner.matchAll(/^ {2}(.+?) {2,}http:\/\/weft\.test:(\d+)$/gm)].map((m) => ({ label: m[1]!, port: Number(m[2]) }))

describe("npm start's --host and --public-host flags", () => {
  it("take any IPv4 or IPv6 address and a host name, default 127.0.0.1, and name what is wrong", () => {
    const checked = (args: ReadonlyArray<string>) => checkHosts(parse(args, root) as Options)
    expect(checked([])).toMatchObject({ host: "127.0.0.1", publicHost: undefined })
    expect(checked(["--host", "::", "--public-host", "weft.example.org"])).toMatchObject({ host: "::", publicHost: "weft.example.org" })
    expect(checked(["--host", "0.0.0.0"])).toMatchObject({ host: "0.0.0.0" })
    expect((checked(["--host", "example.org"]) as UsageError).message).toBe(`--host: "example.org" is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)`)
    expect(checked(["--public-host", "a b"])).toBeInstanceOf(UsageError)
  })
})

describe("npm start -- --host 0.0.0.0 --public-host weft.test", () => {
  let data: string
  let running: Running
  let banner: string

  beforeAll(async () => {
    data = fs.mkdtempSync(path.join(os.tmpdir(), "weft-start-net-"))
    ;({ running, banner } = await launchToBanner(script, [...free, "--host", "0.0.0.0", "--public-host", "weft.test", "--workers", "1", "--no-build", "--data", data], root))
  }, 110_000)

  afterAll(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      const tree = descendants(running.child.pid!)
      process.kill(running.child.pid!, "SIGTERM")
      const stopped = await Promise.race([running.exited.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 20_000))])
      if (!stopped) for (const pid of [running.child.pid!, ...tree]) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {}
      }
    }
    if (data) fs.rmSync(data, { recursive: true, force: true })
  }, 30_000)

  it("prints the public name for every address; each answers through 127.0.0.1, and 421s a foreign Host", async () => {
    const http = addresses(banner)
    expect(http.map((a) => a.label)).toEqual(["landing page", "chat (web)", "tickets", "traffic light"])
    expect(banner).toMatch(/^ {2}chat \(nc\) +nc weft\.test \d+$/m)
    expect(banner).toMatch(/^ {2}chat \(IRC\) +irssi -c weft\.test -p \d+/m)
    for (const { port } of http) {
      const health = `http://127.0.0.1:${port}/health`
      expect((await Hostile.request(health)).status, health).toBe(200)
      expect((await Hostile.request(health, { headers: { host: `weft.test:${port}` } })).status, health).toBe(200)
      expect((await Hostile.request(health, { headers: { host: `evil.example:${port}` } })).status, health).toBe(421)
    }
    for (const line of [/nc weft\.test (\d+)$/m, /irssi -c weft\.test -p (\d+)/m]) {
      const port = Number(line.exec(banner)![1])
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1" })
        socket.once("connect", () => {
          socket.destroy()
          resolve()
        })
        socket.once("error", reject)
      })
    }
    // The landing page probes the apps through loopback: all three up.
    const landing = http[0]!.port
    const deadline = Date.now() + 30_000
    let apps: Array<{ up: boolean }> = []
    while (Date.now() < deadline && !(apps.length === 3 && apps.every((a) => a.up))) {
      apps = ((await (await fetch(`http://127.0.0.1:${landing}/status`)).json()) as { apps: Array<{ up: boolean }> }).apps
      if (!apps.every((a) => a.up)) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(apps.map((a) => a.up)).toEqual([true, true, true])
  }, 60_000)

  it.skipIf(!Chromium.available)(
    Chromium.skipTitle("the landing page links the public names, runs under its CSP with a clean console, and keeps `npm start -- --help` on one line on a phone"),
    async () => {
      const landing = addresses(banner)[0]!.port
      const browser = await Chromium.open()
      try {
        const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
        const problems = await Chromium.watch(page)
        await page.goto(`http://127.0.0.1:${landing}/`)
        await page.waitForFunction(() => document.querySelectorAll('.app[data-up="true"]').length === 3, undefined, { timeout: 30_000 })
        const links = await page.$$eval(".app a", (as) => as.map((a) => (a as HTMLAnchorElement).href))
        expect(links).toHaveLength(3)
        for (const link of links) expect(link).toMatch(/^http:\/\/weft\.test:\d+\/$/)
        expect(await page.textContent("footer")).toContain("Every server listens on 0.0.0.0.")
        // One line box for the command: its height is one line of its font.
        const help = await page.$eval("footer code", (code) => ({ text: code.textContent, lines: code.getClientRects().length }))
        expect(help).toEqual({ text: "npm start -- --help", lines: 1 })
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
        expect(problems()).toEqual([])
      } finally {
        await browser.close()
      }
    },
    90_000
  )
})
