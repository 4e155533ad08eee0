/**
 * What every thread-scope primitive needs around `Atomics.waitAsync`.
 *
 * - `hold` / `unhold`: a pending `Atomics.waitAsync` does not keep a Node or
 *   Deno process alive (Node exits silently, Deno reports a never-resolved
 *   top-level await; Bun keeps it alive). While any fiber of this thread waits
 *   on a shared primitive, one ref'd interval timer keeps the thread alive; it
 *   is cleared when the last waiter leaves.
 * - `waitOn`: one `Atomics.waitAsync` with a finite timeout, so that even a
 *   wait whose fiber was interrupted expires by itself and never lingers. Every
 *   wake-up in Weft is a notify-all on its word, so a stale wait can never
 *   swallow a wake-up meant for a live one.
 * - `spin`: a bounded busy check before going to sleep, so a hand-off between
 *   two busy threads does not pay an event-loop round trip (~40-70 µs).
 * - buffers and handles: each primitive's SharedArrayBuffer starts with a
 *   magic word naming its kind, so `attach` refuses a foreign buffer.
 *
 * `Atomics.waitAsync` exists on Node 24, Bun 1.4.5 and Deno 2.9.6 (checked by
 * the test suite, `test/SharedLock.test.ts`); `Atomics.wait` is never used,
 * because it would block the thread's event loop.
 *
 * @internal
 */
import { clearInterval, setInterval } from "node:timers"
import { InvalidArgumentError } from "../../errors.ts"

let holds = 0
let keepAlive: ReturnType<typeof setInterval> | undefined

const noop = (): void => {}

/** @internal Keeps this thread alive while a shared wait is pending. */
export const hold = (): void => {
  if (holds++ === 0) keepAlive = setInterval(noop, 1 << 30)
}

/** @internal Releases one `hold`. */
export const unhold = (): void => {
  if (--holds === 0 && keepAlive !== undefined) {
    clearInterval(keepAlive)
    keepAlive = undefined
  }
}

/** @internal The number of pending shared waits in this thread (for tests). */
export const pendingHolds = (): number => holds

/**
 * @internal Waits for `array[index]` to move away from `value`, at most
 * `timeout` ms. Calls `onWake` at once (synchronously returns `false`) when it
 * already differs; otherwise returns `true` and calls `onWake` later.
 */
export const waitOn = (
  array: Int32Array,
  index: number,
  value: number,
  timeout: number,
  onWake: (result: "ok" | "timed-out" | "not-equal") => void
): boolean => {
  const result = Atomics.waitAsync(array, index, value, timeout)
  if (!result.async) return false
  result.value.then(onWake)
  return true
}

/** @internal Spins at most `rounds` loads while `array[index] === value`; `true` if it changed. */
export const spin = (array: Int32Array, index: number, value: number, rounds: number): boolean => {
  for (let i = 0; i < rounds; i++) {
    if (Atomics.load(array, index) !== value) return true
  }
  return false
}

/** @internal The magic word at index 0 of each shared primitive's buffer. */
export const Kind = {
  SharedLock: 0x57454601,
  SharedSemaphore: 0x57454602,
  SharedEvent: 0x57454603,
  SharedQueue: 0x57454604
} as const

/** @internal */
export type KindName = keyof typeof Kind

/** @internal A structured-cloneable reference to a shared primitive. */
export interface Handle<K extends KindName> {
  readonly _tag: K
  readonly buffer: SharedArrayBuffer
  /** The name the primitive was made with: an attached copy is listed under it too. */
  readonly name?: string | undefined
  /** A lock's: the process's lock-order log (see `order.ts`), adopted by the thread that attaches it. */
  readonly order?: SharedArrayBuffer | undefined
}

/** @internal The handle of a primitive in `buffer`, with its name if it has one. */
export const handleOf = <K extends KindName>(kind: K, buffer: ArrayBufferLike, name: string | undefined): Handle<K> =>
  name === undefined ? { _tag: kind, buffer: buffer as SharedArrayBuffer } : { _tag: kind, buffer: buffer as SharedArrayBuffer, name }

/** @internal Checks a primitive's `name` option: a string of 1 to 200 characters, or nothing. */
export const checkName = (operation: string, name: unknown): InvalidArgumentError | undefined =>
  name === undefined || (typeof name === "string" && name.length > 0 && name.length <= 200)
    ? undefined
    : new InvalidArgumentError({ operation, argument: "name", value: name, expected: "a string of 1 to 200 characters" })

/** @internal The name a received handle carries (ignored unless a string). */
export const nameOf = (handle: unknown): string | undefined => {
  const name = (handle as { readonly name?: unknown }).name
  return typeof name === "string" && name.length > 0 ? name : undefined
}

/**
 * @internal Checks a handle received from another thread: the right tag, a
 * SharedArrayBuffer of a plausible size, and the right magic word.
 */
export const checkHandle = <K extends KindName>(
  kind: K,
  handle: unknown,
  minBytes: number
): InvalidArgumentError | Int32Array => {
  const fail = (why: string) =>
    new InvalidArgumentError({
      operation: `${kind}.attach`,
      argument: "handle",
      value: describeHandle(handle),
      expected: `the handle of a ${kind} (${why})`
    })
  if (typeof handle !== "object" || handle === null) return fail("not an object")
  const { _tag, buffer } = handle as { _tag?: unknown; buffer?: unknown }
  if (_tag !== kind) return fail(`its _tag is ${JSON.stringify(_tag)}`)
  if (!(buffer instanceof SharedArrayBuffer)) return fail("its buffer is not a SharedArrayBuffer")
  if (buffer.byteLength < minBytes || buffer.byteLength % 4 !== 0) {
    return fail(`its buffer has ${buffer.byteLength} bytes`)
  }
  const array = new Int32Array(buffer)
  if (Atomics.load(array, 0) !== Kind[kind]) return fail("its buffer holds something else")
  return array
}

const describeHandle = (handle: unknown): unknown => {
  if (typeof handle !== "object" || handle === null) return handle
  const { _tag, buffer } = handle as { _tag?: unknown; buffer?: unknown }
  return {
    _tag,
    buffer: buffer instanceof SharedArrayBuffer ? `SharedArrayBuffer(${buffer.byteLength})` : typeof buffer
  }
}
