// EventStream: Server-Sent Events read without EventSource, from a real server.
import { Effect, Exit, Scope } from "effect"
import { Hono } from "hono"
import { streamSSE } from "hono/streaming"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as EventStream from "../src/EventStream.ts"
import * as Serve from "../src/Serve.ts"

let scope: Scope.Closeable
let url: string

beforeAll(async () => {
  const app = new Hono()
  app.get("/three", (c) =>
    streamSSE(c, async (stream) => {
      await stream.write(": a comment first\n\n")
      await stream.writeSSE({ event: "n", data: "1" })
      await stream.write("event: n\r\ndata: two\r\ndata: lines\r\n\r\n")
      await stream.writeSSE({ data: "{\"unnamed\":true}" })
    }))
  app.get("/forever", (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; !stream.aborted; i++) {
        await stream.writeSSE({ event: "tick", data: String(i) })
        await stream.sleep(20)
      }
    }))
  app.get("/json", (c) => c.json({ not: "a stream" }))
  scope = Effect.runSync(Scope.make())
  url = (await Effect.runPromise(Scope.provide(Serve.serve(app), scope))).url
})

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

describe("EventStream", () => {
  it("read: each event's name and data lines, comments skipped, CRLF too, until the server ends the stream", async () => {
    const seen: Array<EventStream.Message> = []
    for await (const message of EventStream.read(`${url}/three`, new AbortController().signal)) seen.push(message)
    expect(seen).toEqual([
      { event: "n", data: "1" },
      { event: "n", data: "two\nlines" },
      { event: "message", data: "{\"unnamed\":true}" }
    ])
  })

  it("read: aborting ends an endless stream quietly; collect stops once it has seen enough", async () => {
    const abort = new AbortController()
    const ticks: Array<string> = []
    for await (const message of EventStream.read(`${url}/forever`, abort.signal)) {
      ticks.push(message.data)
      if (ticks.length === 3) abort.abort()
    }
    expect(ticks).toEqual(["0", "1", "2"])
    expect(await EventStream.collect<number>(`${url}/forever`, { event: "tick", until: (seen) => seen.length === 2 })).toEqual([0, 1])
  })

  it("read: an answer that is not an event stream, or no server, fails with EventStreamError naming the URL", async () => {
    const first = async (target: string) => {
      for await (const _ of EventStream.read(target, new AbortController().signal)) return "an event"
      return "nothing"
    }
    await expect(first(`${url}/json`)).rejects.toMatchObject({ _tag: "EventStreamError", message: `GET ${url}/json: not an event stream (application/json)` })
    await expect(first(`${url}/nowhere`)).rejects.toMatchObject({ _tag: "EventStreamError", message: `GET ${url}/nowhere: 404` })
    await expect(first("http://127.0.0.1:9/")).rejects.toMatchObject({ _tag: "EventStreamError" })
  })
})
