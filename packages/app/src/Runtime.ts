/**
 * Which JavaScript runtime runs this code: `"node"`, `"bun"` or `"deno"`.
 * Bun and Deno also provide `process`, so they are told apart by their own
 * globals.
 *
 * @example
 * ```ts
 * import { Runtime } from "@weft/app"
 *
 * console.log(`running on ${Runtime.current}`) // "running on node"
 * ```
 *
 * @module
 */

/**
 * A runtime the apps run on.
 *
 * @example
 * ```ts
 * const name: Runtime.Name = "deno"
 * ```
 */
export type Name = "node" | "bun" | "deno"

/**
 * The runtime running this code.
 *
 * @example
 * ```ts
 * if (Runtime.current === "deno") console.log("deno wants run -A")
 * ```
 */
export const current: Name = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
