/**
 * The manager's wire protocol: newline-delimited JSON over a Unix domain
 * socket (loopback TCP where there is none).
 *
 * client -> server
 *   `{ t: "hello", key, pid }`                   first line; wrong key: `refused`, then close
 *   `{ t: "call", r, p, o, a, f }`               run operation `o` with args `a` on primitive `p`
 *                                                for client fiber `f`; request id `r`
 *   `{ t: "call", ..., l, w }`                   an acquisition with lock-order checking on: `l`
 *                                                the ids of this manager's locks fiber `f` holds,
 *                                                `w` where it is; an inversion replies `err`
 *                                                with a `LockOrderError`
 *   `{ t: "call", ..., o: "inspect" }`           what `Inspect` shows of primitive `p` (holders,
 *                                                waiters with since, counts)
 *   `{ t: "call", ..., n: 1 }`                   the same, but send no reply (the release
 *                                                that ends a `withLock`: one round trip saved)
 *   `{ t: "cancel", r }`                         the client fiber was interrupted: interrupt `r`
 *   `{ t: "ack", r }`                            the reply to `r` (marked `k: 1`) arrived: the
 *                                                queue item it carried is the client's now
 * server -> client
 *   `{ t: "welcome" }` | `{ t: "refused" }`
 *   `{ t: "reply", r, x: "ok", v }`              success with value `v`
 *   `{ t: "reply", r, x: "ok", v, k: 1 }`        the same, to be acknowledged with `ack` (a queue
 *                                                get: `v` is `{ item, seq }`; a notified condition
 *                                                wait); until then the manager gives the item back,
 *                                                or passes the notification on, if the client drops
 *   `{ t: "reply", r, x: "err", e }`             a tagged error `{ _tag, ...fields }`
 *   `{ t: "reply", r, x: "int" }`                interrupted (after a `cancel`), nothing held
 *   `{ t: "reply", r, x: "die", m }`             a defect on the server
 *   `{ t: "closed" }`                            the manager's scope is closing
 *   `{ t: "msg", s, v }`                         a message `v` published on a pubsub that the
 *                                                client subscribed to as subscription `s`
 *
 * Every `call` gets exactly one `reply`, even after a `cancel`: if the
 * operation won the race (the reply is `ok`), the client undoes it (a queue
 * get is undone by the call `restore(seq)`, a notified condition wait by
 * `passOn`, each instead of an `ack`).
 *
 * @internal
 */
import * as net from "node:net"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Errors from "../errors.ts"

/** Where a manager listens. */
export type Address = { readonly path: string } | { readonly host: string; readonly port: number }

/** @internal */
export const describeAddress = (address: Address): string =>
  "path" in address ? address.path : `${address.host}:${address.port}`

/** @internal */
export type ClientMessage =
  | { readonly t: "hello"; readonly key: string; readonly pid?: number }
  | {
    readonly t: "call"
    readonly r: number
    readonly p: number
    readonly o: string
    readonly a: ReadonlyArray<unknown>
    readonly f: number
    /** Set: no reply wanted (a release at the end of `withLock`). */
    readonly n?: 1
    /** Lock-order checking: the ids of this manager's locks the fiber holds. */
    readonly l?: ReadonlyArray<number>
    /** Lock-order checking: where the fiber is. */
    readonly w?: string
  }
  | { readonly t: "cancel"; readonly r: number }
  | { readonly t: "ack"; readonly r: number }

/** @internal */
export type Reply =
  | { readonly t: "reply"; readonly r: number; readonly x: "ok"; readonly v?: unknown; readonly k?: 1 }
  | { readonly t: "reply"; readonly r: number; readonly x: "err"; readonly e: EncodedError }
  | { readonly t: "reply"; readonly r: number; readonly x: "int" }
  | { readonly t: "reply"; readonly r: number; readonly x: "die"; readonly m: string }

/** @internal */
export type ServerMessage =
  | { readonly t: "welcome" }
  | { readonly t: "refused" }
  | { readonly t: "closed" }
  | { readonly t: "msg"; readonly s: number; readonly v: unknown }
  | Reply

/** @internal */
export interface EncodedError {
  readonly _tag: string
  readonly [field: string]: unknown
}

const errorClasses: Record<string, new(fields: any) => unknown> = {
  NotHeldError: Errors.NotHeldError,
  NotOwnerError: Errors.NotOwnerError,
  SemaphoreOverflowError: Errors.SemaphoreOverflowError,
  BrokenBarrierError: Errors.BrokenBarrierError,
  QueueFullError: Errors.QueueFullError,
  QueueEmptyError: Errors.QueueEmptyError,
  QueueShutDownError: Errors.QueueShutDownError,
  TaskDoneError: Errors.TaskDoneError,
  InvalidArgumentError: Errors.InvalidArgumentError,
  LockOrderError: Errors.LockOrderError
}

/** @internal */
export const encodeError = (error: unknown): EncodedError | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined
  const tag = String((error as { _tag: unknown })._tag)
  if (!(tag in errorClasses)) return undefined
  const fields: Record<string, unknown> = {}
  for (const key of Object.keys(error)) {
    const value = (error as Record<string, unknown>)[key]
    if (typeof value !== "function") fields[key] = value
  }
  return { ...fields, _tag: tag }
}

/** @internal */
export const decodeError = (encoded: EncodedError): unknown => {
  const Class = errorClasses[encoded._tag]
  if (Class === undefined) return new Error(`unknown remote error ${encoded._tag}`)
  const { _tag, ...fields } = encoded
  return new Class(fields)
}

/**
 * A timeout as it travels: milliseconds, `"Infinity"`, or (when it does not
 * parse) the raw input, so that the server's own check names it.
 *
 * @internal
 */
export const encodeTimeout = (input: Duration.Input): unknown => {
  const parsed = Duration.fromInput(input)
  if (Option.isNone(parsed)) return typeof input === "object" ? String(input) : input
  return Duration.isFinite(parsed.value) ? Duration.toMillis(parsed.value) : "Infinity"
}

/** Splits a socket's text into JSON lines; calls `onMessage` for each. @internal */
export const readLines = (socket: net.Socket, onMessage: (message: any) => void, onGarbage: () => void): void => {
  let buffer = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    buffer += chunk
    let newline = buffer.indexOf("\n")
    while (newline !== -1) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      let message: unknown
      try {
        message = JSON.parse(line)
      } catch {
        return onGarbage()
      }
      onMessage(message)
      newline = buffer.indexOf("\n")
    }
  })
}

/** @internal */
export const send = (socket: net.Socket, message: ClientMessage | ServerMessage): void => {
  if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(message) + "\n")
}
