import * as os from "node:os"
import { Effect, Exit, Scope } from "effect"
import { Hono } from "hono"
import { describe, expect, it } from "vitest"
import * as Guard from "../src/Guard.ts"
import * as Hostile from "../src/Hostile.ts"
import { serve, upgradeWebSocket } from "../src/Serve.ts"

const script = `document.body.dataset.ready = "yes"`

const makeApp = (options: Guard.Options = {}) => {
  const app = new Hono()
  app.use(Guard.make({ scripts: [script], maxBody: 4096, ...options }))
  app.get("/", (c) => c.html(`<!doctype html><title>t</title><script>${script}</script>`))
  app.post("/buy", async (c) => c.json({ ok: true, got: await c.req.text() }))
  app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(`echo ${String(event.data)}`) })))
  return app
}

const json = { "content-type": "application/json" }

describe("Guard (the middleware, through app.request)", () => {
  it("answers a loopback Host, and 421 to any other name (DNS rebinding)", async () => {
    const app = makeApp()
    for (const host of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2", "app.localhost"]) {
      expect((await app.request("http://127.0.0.1/", { headers: { host } })).status, host).toBe(200)
    }
    for (const host of ["evil.example", "evil.example:8080", "192.168.1.7", os.hostname()]) {
      const response = await app.request("http://127.0.0.1/", { headers: { host } })
      expect(response.status, host).toBe(421)
      expect(((await response.json()) as { error: string }).error).toContain(host)
    }
  })

  it("with another bind address, allows that address, the host name and --public-host, and nothing else", async () => {
    const app = makeApp({ host: "192.0.2.7", publicHost: "chat.example.org" })
    for (const host of ["192.0.2.7:80", os.hostname(), "CHAT.example.org:8080", "127.0.0.1"]) {
      expect((await app.request("http://x/", { headers: { host } })).status, host).toBe(200)
    }
    for (const host of ["evil.example", "192.0.2.8"]) {
      expect((await app.request("http://x/", { headers: { host } })).status, host).toBe(421)
    }
    // A wildcard bind: every address of this machine.
    const wild = makeApp({ host: "0.0.0.0" })
    const mine = Object.values(os.networkInterfaces()).flat().find((a) => a?.family === "IPv4" && !a.internal)?.address ?? "127.0.0.1"
    expect((await wild.request("http://x/", { headers: { host: `${mine}:9` } })).status).toBe(200)
    expect((await wild.request("http://x/", { headers: { host: "evil.example" } })).status).toBe(421)
  })

  it("refuses a POST from another origin with 403, and one from its own origin passes", async () => {
    const app = makeApp()
    const post = (headers: Record<string, string>) =>
      app.request("http://127.0.0.1:8080/buy", { method: "POST", headers: { host: "127.0.0.1:8080", ...json, ...headers }, body: "{}" })
    expect((await post({ origin: "http://127.0.0.1:8080" })).status).toBe(200)
    expect((await post({})).status).toBe(200) // curl: no Origin
    expect((await post({ origin: "http://127.0.0.1:9999" })).status).toBe(403) // another port
    expect((await post({ origin: "http://localhost:8080" })).status).toBe(403) // another name
    expect((await post({ origin: "null" })).status).toBe(403) // a sandboxed frame, a file
    expect((await post({ "sec-fetch-site": "cross-site" })).status).toBe(403)
    expect((await post({ "sec-fetch-site": "same-site" })).status).toBe(403)
    const refused = await post({ origin: "http://evil.example" })
    expect(await refused.json()).toEqual({ ok: false, error: "a request from another origin (http://evil.example) may not POST here" })
  })

  it("refuses a form or text/plain body with 415: only JSON reaches the API", async () => {
    const app = makeApp()
    const post = (body: string | FormData, headers: Record<string, string> = {}) => app.request("/buy", { method: "POST", body, headers })
    expect((await post("{}", json)).status).toBe(200)
    expect((await post("{}", { "content-type": "application/json; charset=utf-8" })).status).toBe(200)
    // What a no-cors fetch sends (Bun's Request adds the text/plain of a string body only on the wire).
    expect((await post(`{"buyer":"x"}`, { "content-type": "text/plain;charset=UTF-8" })).status).toBe(415)
    expect((await post("buyer=x", { "content-type": "application/x-www-form-urlencoded" })).status).toBe(415)
    const form = new FormData()
    form.set("buyer", "x")
    expect((await post(form)).status).toBe(415)
    expect((await app.request("/buy", { method: "POST" })).status).toBe(200) // no body at all
  })

  it("413 for a body over the limit, having read at most the limit (a stream without a length)", async () => {
    const app = makeApp()
    let pulled = 0
    const chunk = new Uint8Array(1024).fill(32)
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        pulled += chunk.length
        if (pulled > 200 * 1024 * 1024) controller.close()
        else controller.enqueue(chunk)
      }
    })
    const response = await app.request("/buy", { method: "POST", headers: json, body, duplex: "half" } as RequestInit)
    expect(response.status).toBe(413)
    expect(((await response.json()) as { error: string }).error).toBe("the body is larger than 4096 bytes")
    // The limit, plus the chunk that crossed it, plus what the stream queued ahead.
    expect(pulled).toBeLessThanOrEqual(4096 + 4 * 1024)
    // A declared length over the limit is refused before reading anything.
    const declared = await app.request("/buy", { method: "POST", headers: { ...json, "content-length": "5000" }, body: "x".repeat(5000) })
    expect(declared.status).toBe(413)
    expect((await app.request("/buy", { method: "POST", headers: json, body: JSON.stringify("x".repeat(4000)) })).status).toBe(200)
  })

  it("puts a CSP with the scripts' hashes, no framing, nosniff and no-referrer on every response", async () => {
    const app = makeApp()
    for (const response of [await app.request("/"), await app.request("/buy", { method: "POST", body: "x" }), await app.request("/nothing")]) {
      const csp = response.headers.get("content-security-policy") ?? ""
      expect(csp).toContain(`script-src ${Guard.scriptHash(script)}`)
      expect(csp).not.toContain("'unsafe-inline'; script") // styles may be inline, scripts not
      expect(csp.split("; ").find((d) => d.startsWith("script-src"))).not.toContain("unsafe-inline")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).toContain("default-src 'none'")
      expect(response.headers.get("x-frame-options")).toBe("DENY")
      expect(response.headers.get("x-content-type-options")).toBe("nosniff")
      expect(response.headers.get("referrer-policy")).toBe("no-referrer")
    }
    // The hash is the one a browser computes over the script's text.
    expect(Guard.scriptHash("alert(1)")).toBe("'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='")
  })
})

/** Serves the guarded app in a scope of its own. */
const open = async (hostname = "127.0.0.1") => {
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(Scope.provide(serve(makeApp({ host: hostname }), { port: 0, hostname }), scope))
  return { server, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** A WebSocket's first event: "open", or "refused" (it failed or closed without opening). */
const firstEvent = (url: string) =>
  new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => reject(new Error(`no event from ${url} within 10 s`)), 10_000)
    const done = (what: string) => {
      clearTimeout(timer)
      resolve(what)
      ws.close()
    }
    ws.onopen = () => done("open")
    ws.onerror = () => done("refused")
    ws.onclose = () => done("refused")
  })

describe("Guard on a real server (Serve)", () => {
  it("a body streaming past the limit gets 413 long before it is all sent", async () => {
    const { server, close } = await open()
    try {
      const { sent, status } = await Hostile.flood(`${server.url}/buy`)
      expect(status).toBe(413)
      // 200 MB offered; the answer came after the limit, plus what socket buffers hold.
      expect(sent).toBeLessThan(64 * 1024 * 1024)
    } finally {
      await close()
    }
  })

  it("refuses a WebSocket upgrade from another origin with 403, and opens one without", async () => {
    const { server, close } = await open()
    try {
      const status = async (origin: string) => (await Hostile.request(`${server.url}/ws`, { headers: Hostile.upgrade(origin) })).status
      expect(await status("http://evil.example")).toBe(403)
      expect(await status(`http://127.0.0.1:${server.port + 1}`)).toBe(403)
      expect(await status(`http://127.0.0.1:${server.port}`)).toBe(101)
      expect(await firstEvent(`ws://127.0.0.1:${server.port}/ws`)).toBe("open")
    } finally {
      await close()
    }
  })

  it("bound to 0.0.0.0, answers through 127.0.0.1 and still refuses a foreign Host", async () => {
    const { server, close } = await open("0.0.0.0")
    try {
      expect(server.hostname).toBe("0.0.0.0")
      const ok = await fetch(`http://127.0.0.1:${server.port}/`)
      expect(ok.status).toBe(200)
      expect(ok.headers.get("content-security-policy")).toContain("frame-ancestors 'none'")
      expect((await Hostile.request(`http://127.0.0.1:${server.port}/`, { headers: { host: "evil.example" } })).status).toBe(421)
    } finally {
      await close()
    }
  })
})
