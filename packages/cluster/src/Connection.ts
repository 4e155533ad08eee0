/**
 * The postgres.js options a cluster handle connects with, for code that
 * sends statements of its own to the same server (an app's tables beside
 * Weft's): the URL read as `Cluster.connect` reads it (libpq's
 * `?host=/socket/dir` for a Unix socket), and the partition bound in the
 * startup packet: TCP keepalives and `tcp_user_timeout` set for the session,
 * so the server ends the backend (and whatever it holds) of a client cut off
 * by the network within `partitionTimeout` (see the README's "Under a
 * partition").
 *
 * @example
 * ```ts
 * import postgres from "postgres"
 * import { Connection } from "@weft/cluster"
 *
 * const { options } = yield* Connection.options(url, { partitionTimeout: "6 seconds" })
 * const sql = postgres({ ...options, max: 4 })
 * ```
 *
 * @module
 */
import { Duration, Effect } from "effect"
import type postgres from "postgres"
import { duration } from "@weft/primitives/validate"
import { InvalidArgumentError } from "@weft/primitives"
import { bounds, minBound, serverSettings } from "./internal/lease.ts"
import { parseUrl } from "./internal/pg.ts"

/**
 * What `options` returns: postgres.js options, and the server named for messages (`host:port` or the socket's path).
 *
 * @example
 * ```ts
 * const { options, server }: Connection.Resolved = yield* Connection.options(url)
 * ```
 */
export interface Resolved {
  readonly options: postgres.Options<{}>
  readonly server: string
}

/**
 * The postgres.js options for `url` with the partition bound (default 10
 * seconds, at least 6) in the startup packet. Fails with
 * `InvalidArgumentError` for a URL that is not `postgres://` or a bound
 * below 6 seconds. On a Unix socket the keepalive settings do nothing (and no
 * partition can happen).
 *
 * @example
 * ```ts
 * const { options } = yield* Connection.options("postgres://app@db.internal/app", { partitionTimeout: "6 seconds" })
 * options.connection // { tcp_keepalives_idle: 1, tcp_keepalives_interval: 1, tcp_keepalives_count: 3, tcp_user_timeout: 4000 }
 * ```
 */
export const options = (
  url: string,
  settings: { readonly partitionTimeout?: Duration.Input } = {}
): Effect.Effect<Resolved, InvalidArgumentError> =>
  Effect.suspend(() => {
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {
      parsed = undefined
    }
    if (parsed === undefined || (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")) {
      return Effect.fail(
        new InvalidArgumentError({
          operation: "Connection.options",
          argument: "url",
          value: typeof url === "string" ? url.replace(/:[^:@/]*@/, ":***@") : url,
          expected: "a postgres:// URL"
        })
      )
    }
    const bound = duration("Connection.options", "partitionTimeout", settings.partitionTimeout ?? "10 seconds", { min: "positive", finite: true })
    if (bound instanceof InvalidArgumentError) return Effect.fail(bound)
    if (Duration.toMillis(bound) < minBound) {
      return Effect.fail(
        new InvalidArgumentError({
          operation: "Connection.options",
          argument: "partitionTimeout",
          value: settings.partitionTimeout,
          expected: "a finite Duration.Input of at least 6 seconds (the server's keepalives tick in whole seconds)"
        })
      )
    }
    const { options, server } = parseUrl(url)
    return Effect.succeed({
      options: { ...options, connection: serverSettings(bounds(Math.floor(Duration.toMillis(bound)))) },
      server
    })
  })
