/**
 * The one check for values that cross a JSON channel (a manager socket, a
 * `SharedQueue` buffer, a process pool's pipe), shared by every Weft package.
 *
 * Two questions, one module: `problem` asks whether a value survives a JSON
 * round trip unchanged (the strict rule for task arguments), `stringify` asks
 * whether it can be sent at all, accepting what JSON changes in the
 * documented way (a `Date` arrives as its ISO string, `undefined` members
 * vanish) — the rule for queue items, whose getters receive what
 * `JSON.parse` gives.
 *
 * @example
 * ```ts
 * import { problem, stringify } from "@weft/primitives/json"
 *
 * problem({ at: new Date(0) }, "args[0]") // "args[0].at is a Date, which JSON would not carry unchanged (use plain objects and arrays)"
 * stringify("SharedQueue.put", { at: new Date(0) }) // '{"at":"1970-01-01T00:00:00.000Z"}'
 * ```
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts"

const objectProto = Object.prototype

/**
 * Why `value` cannot cross a JSON channel unchanged, or `undefined` when it
 * can. Refuses what JSON would drop or change silently: functions, symbols,
 * bigints, NaN and infinities, cycles and non-plain objects (Map, Set, Date,
 * class instances, typed arrays). `undefined` is allowed (JSON drops it from
 * objects and turns it into `null` in arrays). `path` names the value in the
 * message (`"args[0]"`).
 *
 * @example
 * ```ts
 * import { problem } from "@weft/primitives/json"
 *
 * problem([1, 2n], "args") // "args[1] is a bigint, which JSON cannot carry"
 * problem({ a: [1, "x"] }, "args") // undefined
 * ```
 */
export const problem = (value: unknown, path: string, seen?: Set<object>): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON turns into null`
    case "bigint":
      return `${path} is a bigint, which JSON cannot carry`
    case "function":
      return `${path} is a function, which cannot cross to another process`
    case "symbol":
      return `${path} is a symbol, which cannot cross to another process`
  }
  if (value === null) return undefined
  const object = value as object
  const set = seen ?? new Set<object>()
  if (set.has(object)) return `${path} is part of a cycle, which JSON cannot carry`
  if (Array.isArray(object)) {
    set.add(object)
    for (let i = 0; i < object.length; i++) {
      const found = problem(object[i], `${path}[${i}]`, set)
      if (found !== undefined) return found
    }
    set.delete(object)
    return undefined
  }
  const proto = Object.getPrototypeOf(object)
  if (proto !== objectProto && proto !== null) {
    const name = (proto?.constructor?.name as string | undefined) ?? "object"
    return `${path} is a ${name}, which JSON would not carry unchanged (use plain objects and arrays)`
  }
  set.add(object)
  for (const key in object) {
    const found = problem((object as Record<string, unknown>)[key], `${path}.${key}`, set)
    if (found !== undefined) return found
  }
  set.delete(object)
  return undefined
}

/**
 * `item` as JSON text, or the `InvalidArgumentError` (argument `"item"`) when
 * JSON cannot carry it at all: a cycle, a bigint, or a top-level function,
 * symbol or `undefined`. What JSON changes in its documented way passes (a
 * `Date` becomes its ISO string).
 *
 * @example
 * ```ts
 * import { stringify } from "@weft/primitives/json"
 *
 * stringify("manager queue.put", { n: 1 }) // '{"n":1}'
 * stringify("manager queue.put", () => 1) // InvalidArgumentError
 * ```
 */
export const stringify = (operation: string, item: unknown): string | InvalidArgumentError => {
  let json: string | undefined
  try {
    json = JSON.stringify(item)
  } catch {
    json = undefined
  }
  return json !== undefined ? json : new InvalidArgumentError({
    operation,
    argument: "item",
    value: typeof item === "object" && item !== null ? "a cyclic or non-JSON object" : typeof item,
    expected: "a JSON-serializable value"
  })
}
