/**
 * What Weft's tests and benches share: run a script on the current runtime
 * and watch its lines (`child`, `start`), wait for an announced condition
 * (`waitUntil`), processes by pid and start time (`processIdentity`,
 * `aliveSame`), and a small disk to fill (`smallDisk`). Depends on node:
 * modules and effect only, so every Weft package's tests may use it.
 *
 * @example
 * ```ts
 * import { argv, child, smallDisk } from "@weft/testkit"
 * ```
 */
export * from "./runtime.ts"
export * from "./processes.ts"
export * from "./disk.ts"
export * from "./waitUntil.ts"
export * from "./Child.ts"
