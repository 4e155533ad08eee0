/**
 * The in-memory state of one process, and reading it from disk: the
 * snapshot, then only the journal bytes this process has not read yet. A
 * torn tail is ignored; anything else that does not check out is a
 * `StoreCorruptError`.
 *
 * @internal
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Journal from "../journal.ts"
import type { Order } from "../store.ts"
import { codeOf, describe, show, StoreCorruptError, StoreMissingError } from "./errors.ts"

/** An order as stored: with the idempotency key and request that bought it. */
export interface Stored extends Order {
  readonly key?: string
  readonly req?: string
}

/**
 * Whether `value` is a non-negative safe integer.
 *
 * @example
 * ```ts
 * Store.isCount(3) // true
 * Store.isCount(-1) // false
 * ```
 */
export const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

export interface State {
  /** Which snapshot file this is (inode, size, mtime): a new generation changes it. */
  identity: string
  /** A seed `{"count": N}` file: no journal yet. */
  legacy: boolean
  generation: string
  total: number
  journal: string
  /** Journal bytes read (the end of its last valid frame). */
  offset: number
  /** Orders in the journal (not the snapshot): compaction's trigger. */
  journaled: number
  orders: Array<Stored>
  byId: Map<string, Stored>
  byKey: Map<string, Stored>
}

const SNAPSHOT_MAGIC = `{"weft":"tickets"`

const identityOf = (stat: fs.Stats): string => `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`

const isStored = (r: unknown): r is Stored & { t: "order" } => {
  const o = r as Record<string, unknown>
  return typeof r === "object" && r !== null && o.t === "order" && typeof o.id === "string" &&
    isCount(o.seat) && typeof o.buyer === "string" && typeof o.at === "string" &&
    (o.key === undefined || typeof o.key === "string") && (o.req === undefined || typeof o.req === "string")
}

export const addOrder = (state: State, order: Stored) => {
  state.orders.push(order)
  state.byId.set(order.id, order)
  if (order.key !== undefined) state.byKey.set(order.key, order)
}

/** What an idempotency key is tied to: the request's body as the store compares it. */
export const requestOf = (request: { readonly buyer?: string | undefined }): string => JSON.stringify({ buyer: request.buyer ?? null })

export const strip = (o: Stored): Order => ({ id: o.id, seat: o.seat, buyer: o.buyer, at: o.at })

/** Parses the snapshot's text into a state without its journal (throws StoreCorruptError). */
const parseSnapshot = (file: string, text: string, identity: string): State => {
  const corrupt = (problem: string) => new StoreCorruptError({ file, problem })
  const fresh = (total: number, generation: string, journal: string, legacy: boolean): State => ({
    identity,
    legacy,
    generation,
    total,
    journal,
    offset: 0,
    journaled: 0,
    orders: [],
    byId: new Map(),
    byKey: new Map()
  })
  if (!text.startsWith(SNAPSHOT_MAGIC)) {
    // The seed's format: {"count": N}.
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw corrupt(`neither a Weft snapshot nor the seed's {"count": N}: ${show(text)}`)
    }
    const count = typeof value === "object" && value !== null ? (value as { count?: unknown }).count : undefined
    if (!isCount(count)) throw corrupt(`expected {"count": <non-negative integer>}, found ${show(value)}`)
    return fresh(count, "", "", true)
  }
  const newline = text.indexOf("\n")
  let header: { v?: unknown; bytes?: unknown; crc32?: unknown }
  try {
    header = JSON.parse(newline === -1 ? text : text.slice(0, newline))
  } catch {
    throw corrupt(`the snapshot's header line is not JSON: ${show(text.slice(0, 80))}`)
  }
  if (header.v !== 2) throw corrupt(`unknown snapshot version ${show(header.v)}`)
  const body = Buffer.from(text.slice(newline + 1).replace(/\n$/, ""), "utf8")
  if (body.length !== header.bytes) throw corrupt(`the snapshot's body has ${body.length} bytes, its header says ${show(header.bytes)}`)
  if (Journal.crc32(body) !== header.crc32) throw corrupt(`the snapshot's checksum does not match its body`)
  const data = JSON.parse(body.toString("utf8")) as { generation: string; total: number; journal: string; orders: Array<unknown> }
  if (!isCount(data.total) || typeof data.generation !== "string" || typeof data.journal !== "string" || !Array.isArray(data.orders)) {
    throw corrupt(`the snapshot's body is not {generation, total, journal, orders}`)
  }
  const state = fresh(data.total, data.generation, path.join(path.dirname(file), data.journal), false)
  for (const order of data.orders) {
    if (!isStored({ t: "order", ...(order as object) })) throw corrupt(`a snapshot order is malformed: ${show(order)}`)
    addOrder(state, order as Stored)
  }
  return state
}

/** Reads the journal from `state.offset` on and applies its orders (throws). Returns the torn tail's size. */
const catchUp = (file: string, state: State): number => {
  if (state.legacy) return 0
  const fd = fs.openSync(state.journal, "r")
  try {
    const size = fs.fstatSync(fd).size
    // Shorter than what we read: a batch that failed its fsync was taken back. Read it all again.
    if (size < state.offset) throw new JournalShrank()
    if (size === state.offset) return 0
    const bytes = Buffer.allocUnsafe(size - state.offset)
    let read = 0
    while (read < bytes.length) {
      const n = fs.readSync(fd, bytes, read, bytes.length - read, state.offset + read)
      if (n === 0) break
      read += n
    }
    let decoded: Journal.Decoded
    try {
      decoded = Journal.decode(bytes.subarray(0, read), state.offset)
    } catch (error) {
      if (error instanceof Journal.CorruptJournal) {
        throw new StoreCorruptError({ file, problem: `journal ${path.basename(state.journal)}: ${error.message}` })
      }
      throw error
    }
    if (state.offset === 0 && (decoded.records.length === 0 || (decoded.records[0] as { t?: unknown }).t !== "journal")) {
      // The header is fsynced before the snapshot names the journal: it is never legitimately torn.
      throw new StoreCorruptError({ file, problem: `journal ${path.basename(state.journal)} does not start with its header record` })
    }
    // Check every record first, then apply them: a corrupt journal leaves the state as it was.
    const orders: Array<Stored> = []
    for (const record of decoded.records) {
      if (isStored(record)) {
        const { t: _, ...order } = record as Stored & { t: string }
        orders.push(order)
      } else if ((record as { t?: unknown }).t === "journal") {
        if ((record as { generation?: unknown }).generation !== state.generation) {
          throw new StoreCorruptError({
            file,
            problem: `journal ${path.basename(state.journal)} belongs to generation ${show((record as { generation?: unknown }).generation)}, the snapshot to ${show(state.generation)}`
          })
        }
      } else {
        throw new StoreCorruptError({ file, problem: `journal ${path.basename(state.journal)}: an unknown record ${show(record)}` })
      }
    }
    for (const order of orders) addOrder(state, order)
    state.journaled += orders.length
    state.offset = decoded.end
    return decoded.torn
  } finally {
    fs.closeSync(fd)
  }
}

/** The journal is shorter than what this process read (see `catchUp`). */
class JournalShrank extends Error {}

/**
 * Brings `cached` up to date with the files (or loads them afresh): reads
 * only new journal bytes unless the snapshot was replaced. Throws the
 * store's tagged errors.
 */
export const refresh = (file: string, cached: State | undefined): { state: State; torn: number } => {
  for (let attempt = 0;; attempt++) {
    try {
      let stat: fs.Stats
      try {
        stat = fs.statSync(file)
      } catch (error) {
        if (codeOf(error) === "ENOENT") throw new StoreMissingError({ file })
        throw error
      }
      if (cached !== undefined && identityOf(stat) === cached.identity) {
        return { state: cached, torn: catchUp(file, cached) }
      }
      const fd = fs.openSync(file, "r")
      let state: State
      try {
        const identity = identityOf(fs.fstatSync(fd))
        state = parseSnapshot(file, fs.readFileSync(fd, "utf8"), identity)
      } finally {
        fs.closeSync(fd)
      }
      return { state, torn: catchUp(file, state) }
    } catch (error) {
      // A new generation replaced the files between our reads, or a failed batch was taken back: read again.
      if ((codeOf(error) === "ENOENT" || error instanceof JournalShrank) && attempt < 5) {
        cached = undefined
        continue
      }
      if (codeOf(error) === "ENOENT" && !(error instanceof StoreMissingError)) {
        throw new StoreCorruptError({ file, problem: `its journal is missing (${describe(error)})` })
      }
      throw error
    }
  }
}
