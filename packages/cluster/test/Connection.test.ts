import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Connection } from "../src/index.ts"

describe("Connection.options", () => {
  it.effect("a TCP URL: host, port, user, database, and the partition bound's keepalives in the startup packet", () =>
    Effect.gen(function*() {
      const { options, server } = yield* Connection.options("postgres://app:pw@db.internal:6543/tickets", { partitionTimeout: "6 seconds" })
      assert.strictEqual(server, "db.internal:6543")
      assert.include(options, { host: "db.internal", port: 6543, user: "app", password: "pw", database: "tickets" })
      assert.deepStrictEqual(options.connection, { tcp_keepalives_idle: 1, tcp_keepalives_interval: 1, tcp_keepalives_count: 3, tcp_user_timeout: 4000 })
    }))

  it.effect("libpq's ?host=/dir is a Unix socket", () =>
    Effect.gen(function*() {
      const { options } = yield* Connection.options("postgres://postgres@localhost/postgres?host=/run/postgresql")
      assert.strictEqual(options.path, "/run/postgresql/.s.PGSQL.5432")
    }))

  it.effect("a URL that is not postgres:// and a bound under 6 s are refused, naming the argument", () =>
    Effect.gen(function*() {
      const url = yield* Effect.flip(Connection.options("mysql://root:secret@db/x"))
      assert.strictEqual(url._tag, "InvalidArgumentError")
      assert.notInclude(url.message, "secret")
      const bound = yield* Effect.flip(Connection.options("postgres://db/x", { partitionTimeout: "2 seconds" }))
      assert.include(bound.message, "partitionTimeout")
    }))
})
