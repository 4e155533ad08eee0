/**
 * Test helpers for the PostgreSQL store: the suite's throwaway server (a
 * vitest globalSetup, `@weft/testkit/postgres`), a fresh database per test,
 * `serve --store` instances, and HTTP calls to them.
 */
import { randomBytes } from "node:crypto"
import { Connection } from "@weft/cluster"
import { Effect, type Scope } from "effect"
import type {} from "@weft/testkit/postgres"
import postgres from "postgres"
import { inject } from "vitest"
import * as Testkit from "@weft/testkit"
import { mainScript } from "./helpers.ts"

export const pg = inject("pg")
if (pg.url === undefined) console.warn(`\n*** @weft/ticketing PostgreSQL tests SKIPPED: ${pg.reason} ***\n`)

/** Skip flag and title for a describe block: says loudly when and why it is skipped. */
export const noServer = pg.url === undefined
export const title = (name: string): string => (noServer ? `${name} (skipped: ${pg.reason})` : name)

/** `url` with another database. */
export const withDatabase = (url: string, name: string): string => {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** A scoped postgres.js connection to `url` (the test's own look at the tables). */
export const connect = (url: string) =>
  Effect.acquireRelease(
    Effect.map(Effect.orDie(Connection.options(url)), ({ options }) => postgres({ ...options, max: 2, onnotice: () => {} })),
    (sql) => Effect.promise(() => sql.end({ timeout: 1 }))
  )

/** A new, empty database on the server at `url` for this test (dropped after): its URL. */
export const database = (url: string = pg.url!): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    const name = `tickets_${randomBytes(5).toString("hex")}`
    const admin = yield* connect(url)
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.unsafe(`CREATE DATABASE ${name}`)),
      () => Effect.promise(() => admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {}))
    )
    return withDatabase(url, name)
  })

/** What the store holds, read directly: counts and every order. */
export const contents = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* connect(url)
    // One statement: the counts and the orders from one snapshot.
    const [row] = yield* Effect.promise(() =>
      sql.unsafe(`SELECT s.sold, s.total, coalesce((SELECT json_agg(json_build_object('id', id, 'seat', seat, 'buyer', buyer, 'at', at) ORDER BY seat)
        FROM weft_tickets.orders), '[]') AS orders FROM weft_tickets.sale s`)
    )
    return {
      sold: row!.sold as number,
      total: row!.total as number,
      orders: (typeof row!.orders === "string" ? JSON.parse(row!.orders) : row!.orders) as Array<{ id: string; seat: number; buyer: string; at: string }>
    }
  }))

/** One instance: `serve --store url` (extra args), and where it answers. */
export interface Instance {
  readonly child: Testkit.Child
  readonly base: string
}

/** Starts `serve --store url` on this runtime (or `command` around it: a namespace), waits until it serves. */
export const serve = (
  url: string,
  args: ReadonlyArray<string> = [],
  options: { readonly ns?: string; readonly host?: string } = {}
): Effect.Effect<Instance, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const argv = ["serve", "--store", url, "--port", "0", ...(options.host === undefined ? [] : ["--host", options.host]), ...args]
    const child = yield* Testkit.child(mainScript, argv, {
      lines: "both",
      ...(options.ns === undefined ? {} : { command: ["ip", "netns", "exec", options.ns, ...Testkit.argv(mainScript, argv)] })
    })
    const line = yield* child.line(/^serving http:\/\//, 60_000)
    const base = /^serving (http:\/\/\S+)/.exec(line)![1]!
    return { child, base }
  })

/** An HTTP answer: status and JSON body (status 0: no answer within the timeout, or no connection). */
export interface Answer {
  readonly status: number
  readonly body: any
}

/** `POST /buy` (with a key, a buyer), answered or not within `timeoutMs`. */
export const buy = (base: string, key?: string, buyer?: string, timeoutMs = 30_000): Promise<Answer> =>
  call(base, "/buy", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { "idempotency-key": key }) },
    body: buyer === undefined ? "" : JSON.stringify({ buyer })
  }, timeoutMs)

/** Any request, as an `Answer`. */
export const call = async (base: string, path: string, init: RequestInit = {}, timeoutMs = 30_000): Promise<Answer> => {
  try {
    const response = await fetch(base + path, { ...init, signal: AbortSignal.timeout(timeoutMs) })
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, body }
  } catch {
    return { status: 0, body: undefined }
  }
}

/** Waits until `check` holds, at most `ms`. */
export const eventually = (check: () => Promise<boolean>, ms = 20_000, what = "condition") =>
  Effect.promise(async () => {
    const deadline = Date.now() + ms
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })
