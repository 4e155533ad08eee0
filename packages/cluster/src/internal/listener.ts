/**
 * One LISTEN connection per cluster handle. Waiters and subscribers register
 * for a channel; each notification on it goes to each of them, in the order
 * the server delivers them (commit order, the same for every listener). A
 * waiter sleeps here: it sends no statement until something is notified.
 *
 * If the connection drops, every registration fails at once with
 * `ClusterUnavailableError` (as a defect): notifications sent meanwhile are
 * gone, so waiting on would risk waiting forever. The next registration
 * connects again.
 *
 * @internal
 */
import { Cause, Effect, Queue, type Scope } from "effect"
import type { Db, Sql } from "./pg.ts"

/** The notifications of one channel since registering, oldest first. @internal */
export interface Inbox {
  /** The next notification's payload, waiting for one. */
  readonly next: Effect.Effect<string>
  /** Every payload buffered now (maybe none); never waits. */
  readonly drain: Effect.Effect<ReadonlyArray<string>>
}

/** @internal */
export class Listener {
  private sql: Sql | undefined = undefined
  private readonly inboxes = new Map<string, Set<Queue.Queue<string>>>()
  private readonly listening = new Map<string, Promise<unknown>>()
  private readonly db: Db

  constructor(db: Db) {
    this.db = db
  }

  private connection(): Sql {
    if (this.sql !== undefined) return this.sql
    const sql: Sql = this.db.connection({
      onnotify: (channel: string, payload: string) => {
        const boxes = this.inboxes.get(channel)
        if (boxes !== undefined) for (const box of boxes) Queue.offerUnsafe(box, payload)
      },
      onclose: () => this.lose(sql, "the LISTEN connection closed")
    } as any)
    this.sql = sql
    return sql
  }

  private lose(sql: Sql, reason: unknown): void {
    if (this.sql !== sql) return
    this.sql = undefined
    this.listening.clear()
    const cause = Cause.die(this.db.unavailable(reason))
    const all = [...this.inboxes.values()]
    this.inboxes.clear()
    for (const boxes of all) for (const box of boxes) Queue.failCauseUnsafe(box, cause)
    this.db.discard(sql)
  }

  /**
   * Registers for `channel` until the scope closes; returns once the server
   * listens, so every notification committed from then on arrives.
   */
  inbox(channel: string): Effect.Effect<Inbox, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.gen({ self: this }, function*() {
        const box = yield* Queue.unbounded<string>()
        const sql = this.connection()
        let boxes = this.inboxes.get(channel)
        if (boxes === undefined) this.inboxes.set(channel, boxes = new Set())
        const all = boxes
        let ready: Promise<unknown>
        const listened = this.listening.get(channel)
        if (listened === undefined) {
          // The first registration: nothing is delivered on the channel
          // before LISTEN is done, so the box can go in at once.
          all.add(box)
          this.db.queries++
          ready = sql.unsafe(`LISTEN "${channel}"`).then(() => undefined)
          this.listening.set(channel, ready)
        } else {
          // The channel is already listened to: notifications committed
          // before this call may still be on their way to this connection.
          // The server sends them ahead of the reply to a statement sent now,
          // so the box goes in when that reply arrives (in the same
          // microtask, before any later notification is dispatched).
          ready = listened.then(() => {
            this.db.queries++
            return sql.unsafe("SELECT 1").then(() => void all.add(box))
          })
        }
        const done = ready
        yield* Effect.tryPromise({ try: () => done, catch: (e) => e }).pipe(
          Effect.catch((e) =>
            Effect.sync(() => {
              this.lose(sql, e)
              Queue.failCauseUnsafe(box, Cause.die(this.db.unavailable(e)))
            })
          )
        )
        return box
      }),
      (box) =>
        Effect.sync(() => {
          const boxes = this.inboxes.get(channel)
          if (boxes === undefined || !boxes.delete(box) || boxes.size > 0) return
          this.inboxes.delete(channel)
          this.listening.delete(channel)
          const sql = this.sql
          if (sql !== undefined) {
            this.db.queries++
            sql.unsafe(`UNLISTEN "${channel}"`).catch(() => {})
          }
        })
    ).pipe(Effect.map((box) => ({ next: Queue.take(box), drain: Queue.clear(box) })))
  }
}
