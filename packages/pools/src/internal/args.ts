/**
 * Argument preparation, before a task is queued: unwraps `transfer(...)`
 * (collecting the transfer list for a thread pool), replaces Weft primitives
 * by their handles (the worker attaches them again), and refuses, naming it,
 * an argument that cannot cross to a worker of this kind, so a bad task fails
 * at `submit` and never reaches a worker.
 *
 * @internal
 */
import type { PoolKind } from "../errors.ts"
import { InvalidArgumentError } from "../errors.ts"
import { isTransfer } from "../worker.ts"
import * as P from "./protocol.ts"
import type { TransportKind } from "./transport.ts"

export interface Prepared {
  /** What travels: the arguments, or `{ [ATTACH]: positions, args }` when some are primitives. */
  readonly args: Array<unknown>
  readonly transferList: Array<any> | undefined
}

/** The task's arguments ready to send, or the error that says which one cannot cross. */
export const prepare = (
  kind: TransportKind,
  name: string,
  rawArgs: ReadonlyArray<unknown>
): Prepared | InvalidArgumentError => {
  let args = rawArgs as Array<unknown>
  let transferList: Array<any> | undefined
  let attach: Array<number> | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === null || typeof arg !== "object") continue
    if (isTransfer(arg)) {
      if (args === rawArgs) args = rawArgs.slice()
      args[i] = arg.value
      if (arg.transferList.length > 0 && kind.problem === undefined) {
        transferList ??= []
        for (const t of arg.transferList) transferList.push(t)
      }
      continue
    }
    const handle = P.attachableHandle(arg)
    if (handle !== undefined) {
      if (args === rawArgs) args = rawArgs.slice()
      args[i] = handle
      ;(attach ??= []).push(i)
    }
  }
  const problem = kind.problem
  if (problem !== undefined) {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as { _tag?: unknown } | null
      const why = arg !== null && typeof arg === "object" && typeof arg._tag === "string" && arg._tag.startsWith("Shared")
        ? `argument ${i} is a ${arg._tag}, which works between threads only (use a Manager primitive between processes)`
        : problem(args[i], `argument ${i}`)
      if (why !== undefined) return notCloneable(kind.pool, name, args[i], why)
    }
  }
  return { args: attach === undefined ? args : ({ [P.ATTACH]: attach, args } as any), transferList }
}

/** The error for a task whose arguments cannot cross to the worker, and why. */
export const notCloneable = (pool: PoolKind, name: string, value: unknown, why: string): InvalidArgumentError =>
  new InvalidArgumentError({
    operation: `${pool}.submit(${JSON.stringify(name)})`,
    argument: "every argument",
    value: safeDescribe(value),
    expected: `a value that can cross to the worker, but ${why}`
  })

const safeDescribe = (value: unknown): unknown => {
  try {
    JSON.stringify(value)
    return value
  } catch {
    return Object.prototype.toString.call(value)
  }
}
