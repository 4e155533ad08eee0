/**
 * Before anything starts: is each port free on 127.0.0.1 (or `--host`)? A taken port is
 * named, with what it was meant for, so a second `npm start` says at once
 * which port is in use instead of leaving half the apps running.
 */
import * as net from "node:net"
import * as Host from "@weft/app/Host"
import { Data, Effect } from "effect"

/**
 * Ports that something else already listens on.
 *
 * @example
 * ```ts
 * new PortsTakenError({ taken: [{ port: 8080, purpose: "the landing page", flag: "port" }] }).message
 * // "cannot start: ... port 8080 (the landing page, --port) is taken ..."
 * ```
 */
export class PortsTakenError extends Data.TaggedError("PortsTakenError")<{
  readonly taken: ReadonlyArray<{ readonly port: number; readonly purpose: string; readonly flag: string }>
  readonly host?: string | undefined
}> {
  override get message(): string {
    const lines = this.taken.map(({ flag, port, purpose }) => `  port ${port} (${purpose}, --${flag}) is taken`)
    return `cannot start: another program listens on ${this.host ?? Host.loopback} already; is another npm start running?\n${lines.join("\n")}\n` +
      `Stop it, or pick other ports: npm start -- --help`
  }
}

/**
 * Whether host:port (default 127.0.0.1) can be bound right now (port 0 always can).
 *
 * @example
 * ```ts
 * const free = yield* isFree(8080)
 * ```
 */
export const isFree = (port: number, host: string = Host.loopback): Effect.Effect<boolean> =>
  port === 0 ? Effect.succeed(true) : Effect.callback<boolean>((resume) => {
    const server = net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resume(Effect.succeed(true))))
  })

/**
 * Fails with every taken port at once.
 *
 * @example
 * ```ts
 * yield* checkFree([{ port: 8080, purpose: "the landing page", flag: "port" }])
 * ```
 */
export const checkFree = (
  wanted: ReadonlyArray<{ readonly port: number; readonly purpose: string; readonly flag: string }>,
  host: string = Host.loopback
): Effect.Effect<void, PortsTakenError> =>
  Effect.flatMap(
    Effect.filter(wanted, (w) => Effect.map(isFree(w.port, host), (free) => !free), { concurrency: "unbounded" }),
    (taken) => (taken.length === 0 ? Effect.void : Effect.fail(new PortsTakenError({ taken, host })))
  )
