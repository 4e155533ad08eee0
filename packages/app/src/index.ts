/**
 * `@weft/app`: the plumbing every Weft app needs, in one place, on Node, Bun
 * and Deno — serve a Hono app on the runtime's own server (`Serve`) behind
 * one HTTP guard (`Guard`, `Host`), run a main program with clean signal
 * handling (`Main`), run a script on the same runtime (`Child`) that stops
 * when its parent dies (`Parent`), supervise `node:cluster` workers
 * (`Workers`), and know which runtime this is (`Runtime`). Chromium for
 * browser tests and the hostile clients for security tests are the separate
 * entries `@weft/app/Chromium` and `@weft/app/Hostile`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hono } from "hono"
 * import { Main, Serve } from "@weft/app"
 *
 * const app = new Hono().get("/health", (c) => c.json({ ok: true }))
 *
 * Main.runMain(
 *   Effect.scoped(Effect.gen(function*() {
 *     const server = yield* Serve.serve(app, { port: 8080 })
 *     console.log(`serving ${server.url}`)
 *     return yield* Effect.never // Ctrl-C closes the server, exits 0
 *   })),
 *   { name: "my-app" }
 * )
 * ```
 *
 * @module
 */
export * as Child from "./Child.ts"
export * as EventStream from "./EventStream.ts"
export * as Guard from "./Guard.ts"
export * as Host from "./Host.ts"
export * as Inspector from "./Inspector.ts"
export * as Main from "./Main.ts"
export * as Parent from "./Parent.ts"
export * as Runtime from "./Runtime.ts"
export * as Serve from "./Serve.ts"
export * as Workers from "./Workers.ts"
