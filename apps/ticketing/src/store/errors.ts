/**
 * The ticket store's errors, each naming the store's file and what was wrong,
 * and the helpers that word them.
 *
 * @module
 */
import { Data } from "effect"
import type { Order } from "../store.ts"

/**
 * There is no store at the path.
 *
 * @example
 * ```ts
 * Effect.catchTag("StoreMissingError", (e) => Effect.log(e.message))
 * ```
 */
export class StoreMissingError extends Data.TaggedError("StoreMissingError")<{ readonly file: string }> {
  override get message(): string {
    return `ticket store ${this.file}: missing (create it with --tickets N, or a file {"count": N})`
  }
}

/**
 * The store's files are damaged: refused, and never written to.
 *
 * @example
 * ```ts
 * Effect.catchTag("StoreCorruptError", (e) => Effect.log(e.problem))
 * ```
 */
export class StoreCorruptError extends Data.TaggedError("StoreCorruptError")<{
  readonly file: string
  readonly problem: string
}> {
  override get message(): string {
    return `ticket store ${this.file}: corrupt: ${this.problem} (refused; it is left as it is)`
  }
}

/**
 * The store could not be read or written (full disk, permissions). Nothing
 * from the failed write was confirmed.
 *
 * @example
 * ```ts
 * Effect.catchTag("StoreIOError", (e) => Effect.log(e.code)) // "ENOSPC"
 * ```
 */
export class StoreIOError extends Data.TaggedError("StoreIOError")<{
  readonly file: string
  readonly code: string | undefined
  readonly problem: string
}> {
  override get message(): string {
    const full = this.code === "ENOSPC" || /ENOSPC/.test(this.problem)
    return `ticket store ${this.file}: ${this.problem}${full && !this.problem.includes("disk is full") ? " (the disk is full)" : ""}`
  }
}

/**
 * A count that is not a non-negative integer (`reset`, `--tickets`).
 *
 * @example
 * ```ts
 * yield* store.reset(-1) // fails InvalidCountError: count must be a non-negative integer, got -1
 * ```
 */
export class InvalidCountError extends Data.TaggedError("InvalidCountError")<{ readonly value: unknown }> {
  override get message(): string {
    return `count must be a non-negative integer, got ${show(this.value)}`
  }
}

/**
 * An idempotency key already bought a ticket with a different request.
 *
 * @example
 * ```ts
 * yield* store.buy({ buyer: "ada", key: "k" })
 * yield* store.buy({ buyer: "bob", key: "k" }) // fails IdempotencyKeyReusedError
 * ```
 */
export class IdempotencyKeyReusedError extends Data.TaggedError("IdempotencyKeyReusedError")<{
  readonly key: string
  readonly order: Order
}> {
  override get message(): string {
    return `Idempotency-Key ${show(this.key)} was already used with a different body (for order ${this.order.id})`
  }
}

/**
 * Any failure of the store's files.
 *
 * @example
 * ```ts
 * const onError = (e: Store.StoreError) => e._tag // "StoreMissingError" | "StoreCorruptError" | "StoreIOError"
 * ```
 */
export type StoreError = StoreMissingError | StoreCorruptError | StoreIOError

/**
 * A value as an error message shows it: JSON, cut after 60 characters
 * (never inside one).
 *
 * @internal
 */
export const show = (value: unknown): string => {
  const text = value === undefined ? "undefined" : JSON.stringify(value) ?? String(value)
  const chars = Array.from(text)
  return chars.length > 60 ? `${chars.slice(0, 60).join("")}…` : text
}

/** The `code` of a Node error (`ENOSPC`, `ENOENT`), if it has one. @internal */
export const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

/** An error as a message names it, with its code. @internal */
export const describe = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const c = codeOf(error)
  return c !== undefined && !message.includes(c) ? `${c}: ${message}` : message
}
