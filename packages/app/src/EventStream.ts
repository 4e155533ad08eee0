/**
 * Reading Server-Sent Events on the server side (or in a test), where there
 * is no `EventSource`: what `npm start`'s inspector does to follow each
 * app's `/inspect/events`.
 *
 * @example
 * ```ts
 * import * as EventStream from "@weft/app/EventStream"
 *
 * const abort = new AbortController()
 * for await (const { event, data } of EventStream.read("http://127.0.0.1:8083/inspect/events", abort.signal)) {
 *   if (event === "snapshot") console.log(JSON.parse(data))
 * }
 * ```
 *
 * @module
 */
import * as Data from "effect/Data"

/**
 * One event: its `event:` name ("message" when it has none) and its `data:` lines joined.
 *
 * @example
 * ```ts
 * const message: EventStream.Message = { event: "snapshot", data: "{}" }
 * ```
 */
export interface Message {
  readonly event: string
  readonly data: string
}

/**
 * The stream could not be opened: the server answered something other than
 * `text/event-stream` with 200.
 *
 * @example
 * ```ts
 * new EventStream.EventStreamError({ url, reason: "421" }).message // "GET http://...: 421"
 * ```
 */
export class EventStreamError extends Data.TaggedError("EventStreamError")<{ readonly url: string; readonly reason: string }> {
  override get message(): string {
    return `GET ${this.url}: ${this.reason}`
  }
}

/** The events in one block of lines (comments and `id:`/`retry:` fields ignored); undefined for none. */
const parse = (block: string): Message | undefined => {
  let event = "message"
  const data: Array<string> = []
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(":")
    if (colon === 0) continue
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
    if (field === "event") event = value
    else if (field === "data") data.push(value)
  }
  return data.length === 0 ? undefined : { event, data: data.join("\n") }
}

/**
 * The events of `url` as they arrive, until the server ends the stream or
 * `signal` aborts (then it ends quietly). Fails with `EventStreamError` if
 * the server does not answer with an event stream.
 *
 * @example
 * ```ts
 * for await (const m of EventStream.read(`${url}/inspect/events`, signal)) console.log(m.event)
 * ```
 */
export async function* read(url: string, signal: AbortSignal): AsyncGenerator<Message> {
  let response: Response
  try {
    response = await fetch(url, { signal, headers: { accept: "text/event-stream" } })
  } catch (error) {
    if (signal.aborted) return
    throw new EventStreamError({ url, reason: error instanceof Error ? error.message : String(error) })
  }
  const type = response.headers.get("content-type") ?? ""
  if (!response.ok || response.body === null || !type.startsWith("text/event-stream")) {
    await response.body?.cancel()
    throw new EventStreamError({ url, reason: response.ok ? `not an event stream (${type || "no content type"})` : String(response.status) })
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buffer += value
      for (let cut = buffer.search(/\r?\n\r?\n/); cut >= 0; cut = buffer.search(/\r?\n\r?\n/)) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "")
        const message = parse(block)
        if (message !== undefined) yield message
      }
    }
  } catch (error) {
    if (signal.aborted) return
    throw error
  } finally {
    reader.cancel().catch(() => {})
  }
}

/**
 * The `data` of every `event` event of `url`, parsed as JSON, until `until`
 * says it has seen enough or `timeout` ms have passed (then it returns what
 * it saw): for tests and one-off looks at a stream.
 *
 * @example
 * ```ts
 * const [first] = await EventStream.collect(`${url}/inspect/events`, { event: "snapshot", until: (seen) => seen.length > 0 })
 * ```
 */
export const collect = async <A = any>(
  url: string,
  options: { readonly event: string; readonly until: (seen: ReadonlyArray<A>) => boolean; readonly timeout?: number | undefined }
): Promise<Array<A>> => {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), options.timeout ?? 15_000)
  const seen: Array<A> = []
  try {
    for await (const message of read(url, abort.signal)) {
      if (message.event === options.event) seen.push(JSON.parse(message.data) as A)
      if (options.until(seen)) break
    }
  } finally {
    clearTimeout(timer)
    abort.abort()
  }
  return seen
}
