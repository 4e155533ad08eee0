/**
 * The runtime running this code, and how to run a `.ts` script on it: Node 24
 * and Bun run TypeScript as they are, Deno needs `run -A`.
 *
 * @example
 * ```ts
 * import { spawn } from "node:child_process"
 * import { argv } from "@weft/testkit"
 * const [command, ...args] = argv(new URL("./fixture.ts", import.meta.url), ["hold"])
 * spawn(command, args, { stdio: "inherit" })
 * ```
 */
import { fileURLToPath } from "node:url"

/** Which of the three runtimes runs this code. */
export type Runtime = "node" | "bun" | "deno"

/**
 * The runtime running this code.
 *
 * @example
 * ```ts
 * it.skipIf(runtime === "deno")("uses a Node-only flag", () => {})
 * ```
 */
export const runtime: Runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"

/**
 * The arguments this runtime needs before a script: Deno's `run -A`, nothing for Node and Bun.
 *
 * @example
 * ```ts
 * fork(script, args, { execArgv: [...execArgv] })
 * ```
 */
export const execArgv: ReadonlyArray<string> = runtime === "deno" ? ["run", "-A"] : []

/**
 * The whole command line that runs `script` with `args` on this runtime:
 * `[process.execPath, ...execArgv, script, ...args]`.
 *
 * @example
 * ```ts
 * const [command, ...args] = argv("/repo/src/main.ts", ["--port", "0"])
 * // deno: [".../deno", "run", "-A", "/repo/src/main.ts", "--port", "0"]
 * ```
 */
export const argv = (script: string | URL, args: ReadonlyArray<string> = []): [string, ...Array<string>] => [
  process.execPath,
  ...execArgv,
  script instanceof URL ? fileURLToPath(script) : script,
  ...args
]
