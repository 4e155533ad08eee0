import { Effect, Exit, Scope } from "effect"
import { Hono } from "hono"
import { streamSSE } from "hono/streaming"
import { describe, expect, it } from "vitest"
import * as Runtime from "../src/Runtime.ts"
import { serve, upgradeWebSocket } from "../src/Serve.ts"

const makeApp = () => {
  const app = new Hono()
  app.get("/health", (c) => c.json({ ok: true, runtime: Runtime.current }))
  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; !stream.aborted; i++) {
        await stream.writeSSE({ data: String(i) })
        await stream.sleep(20)
      }
    }))
  app.get("/echo", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(`echo ${String(event.data)}`) })))
  return app
}

/** Opens a server in a scope of its own, so the test decides when it closes. */
const open = async (port = 0) => {
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(Scope.provide(serve(makeApp(), { port }), scope))
  return { server, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const echo = (url: string, text: string) =>
  new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => reject(new Error("no echo within 10 s")), 10_000)
    ws.onopen = () => ws.send(text)
    ws.onmessage = (event) => {
      clearTimeout(timer)
      resolve(String(event.data))
      ws.close()
    }
    ws.onerror = () => reject(new Error(`WebSocket ${url} failed`))
  })

describe(`serve on ${Runtime.current}`, () => {
  it("binds 127.0.0.1 on a free port and answers HTTP", async () => {
    const { server, close } = await open()
    try {
      expect(server.hostname).toBe("127.0.0.1")
      expect(server.port).toBeGreaterThan(0)
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
      const response = await fetch(`${server.url}/health`)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ok: true, runtime: Runtime.current })
    } finally {
      await close()
    }
  })

  it("upgrades WebSockets with the runtime's own helper", async () => {
    const { server, close } = await open()
    try {
      expect(await echo(`ws://127.0.0.1:${server.port}/echo`, "hi")).toBe("echo hi")
      expect(await echo(`ws://127.0.0.1:${server.port}/echo`, "again")).toBe("echo again")
    } finally {
      await close()
    }
  })

  it("closing cuts open SSE streams and WebSockets and frees the port", async () => {
    const { server, close } = await open()
    const response = await fetch(`${server.url}/events`)
    const reader = response.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("data: 0")
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/echo`)
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve()
      ws.onerror = () => reject(new Error("no WebSocket"))
    })
    const wsClosed = new Promise<void>((resolve) => (ws.onclose = () => resolve()))
    await close() // returns although a stream and a socket were open
    // The stream ends (or errors) instead of running on.
    const ended = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {}
      return "ended"
    })()
    expect(await ended).toBe("ended")
    await wsClosed
    // The same port can be bound again.
    const again = await open(server.port)
    expect(again.server.port).toBe(server.port)
    await again.close()
  })

  it("a taken port fails with ServeError naming the address", async () => {
    const { server, close } = await open()
    try {
      const exit = await Effect.runPromiseExit(Effect.scoped(serve(makeApp(), { port: server.port })))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      const value = error?._tag === "Fail" ? error.error : undefined
      expect(value?._tag).toBe("ServeError")
      expect(value?.inUse).toBe(true)
      expect(value?.message).toBe(`cannot listen on 127.0.0.1:${server.port}: the port is taken`)
    } finally {
      await close()
    }
  })

  it("data-last: serve(options)(app)", async () => {
    const status = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* serve({ port: 0 })(makeApp())
      return yield* Effect.promise(() => fetch(`${server.url}/health`).then((r) => r.status))
    })))
    expect(status).toBe(200)
  })
})
