/**
 * The journal's record framing: length-prefixed, checksummed frames, so that
 * a torn tail (a write cut short by a crash) is told apart from data.
 *
 * A frame is a 12-byte header and a payload:
 *
 * ```
 * offset 0  u32 LE  magic 0x314a5457 ("WTJ1")
 * offset 4  u32 LE  payload length in bytes (1 .. 1 MiB)
 * offset 8  u32 LE  CRC-32 (IEEE) of the length field and the payload
 * offset 12 ...     payload: one JSON object, UTF-8
 * ```
 *
 * Reading stops at the first frame that is not whole and valid. What follows
 * it is a **torn tail** when no valid frame starts anywhere after it (a crash
 * cut the last write short: it was never confirmed, and it is dropped); it is
 * **corruption** when a valid frame does follow (bytes in the middle of the
 * journal changed), and the store is refused.
 *
 * @example
 * ```ts
 * const bytes = Journal.encode([{ t: "order", seat: 1 }])
 * Journal.decode(bytes) // { records: [{ t: "order", seat: 1 }], end: bytes.length, torn: 0 }
 * ```
 *
 * @module
 */

/**
 * "WTJ1" read as a little-endian u32: the first four bytes of every frame.
 *
 * @example
 * ```ts
 * new DataView(Journal.encode([{}]).buffer).getUint32(0, true) === Journal.MAGIC // true
 * ```
 */
export const MAGIC = 0x314a5457
/**
 * Header bytes before each payload (magic, length, CRC-32).
 *
 * @example
 * ```ts
 * Journal.encode([{}]).length // Journal.HEADER + 2
 * ```
 */
export const HEADER = 12
/**
 * The longest payload a frame may carry (1 MiB).
 *
 * @example
 * ```ts
 * Journal.encode([{ pad: "x".repeat(Journal.MAX_PAYLOAD) }]) // throws RangeError
 * ```
 */
export const MAX_PAYLOAD = 1 << 20

const TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/**
 * CRC-32 (IEEE 802.3, as zlib's) of `bytes[start..end)`, continuing from `crc`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode("123456789")) // 0xcbf43926
 * ```
 */
export const crc32 = (bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number => {
  let c = (crc ^ 0xffffffff) >>> 0
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * Frames the records, one frame each, into one buffer (written with one
 * `write`, then one `fsync`: the group commit).
 *
 * @example
 * ```ts
 * fs.writeSync(fd, Journal.encode(records))
 * ```
 */
export const encode = (records: ReadonlyArray<unknown>): Uint8Array => {
  const payloads = records.map((r) => encoder.encode(JSON.stringify(r)))
  const out = new Uint8Array(payloads.reduce((n, p) => n + HEADER + p.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const payload of payloads) {
    if (payload.length === 0 || payload.length > MAX_PAYLOAD) throw new RangeError(`a journal record of ${payload.length} bytes`)
    view.setUint32(at, MAGIC, true)
    view.setUint32(at + 4, payload.length, true)
    out.set(payload, at + HEADER)
    view.setUint32(at + 8, checksum(out, at, at + HEADER + payload.length), true)
    at += HEADER + payload.length
  }
  return out
}

/** The frame's CRC-32: its length field, then its payload. */
const checksum = (bytes: Uint8Array, at: number, end: number): number => crc32(bytes, at + HEADER, end, crc32(bytes, at + 4, at + 8))

/** A whole, valid frame at `at`: its payload's end, else `undefined`. */
const frameAt = (bytes: Uint8Array, view: DataView, at: number): number | undefined => {
  if (bytes.length - at < HEADER || view.getUint32(at, true) !== MAGIC) return undefined
  const length = view.getUint32(at + 4, true)
  if (length === 0 || length > MAX_PAYLOAD || at + HEADER + length > bytes.length) return undefined
  return checksum(bytes, at, at + HEADER + length) === view.getUint32(at + 8, true) ? at + HEADER + length : undefined
}

/**
 * What `decode` found: the records, the offset just past the last valid
 * frame, and how many bytes after it are a torn tail (0: none).
 *
 * @example
 * ```ts
 * const { records, end, torn } = Journal.decode(bytes)
 * ```
 */
export interface Decoded {
  readonly records: ReadonlyArray<unknown>
  readonly end: number
  readonly torn: number
}

/**
 * A journal is corrupt: bytes before its last valid frame are not a valid
 * frame (or a frame's payload is not JSON). `offset` is where.
 *
 * @example
 * ```ts
 * try { Journal.decode(bytes) } catch (e) { if (e instanceof Journal.CorruptJournal) e.offset }
 * ```
 */
export class CorruptJournal extends Error {
  readonly offset: number
  readonly problem: string
  constructor(offset: number, problem: string) {
    super(`${problem} at byte ${offset}`)
    this.offset = offset
    this.problem = problem
  }
}

/**
 * Reads frames from `bytes` (which start at a frame boundary); throws
 * `CorruptJournal` on corruption, reports a torn tail in `torn`.
 *
 * @example
 * ```ts
 * const { records, torn } = Journal.decode(fs.readFileSync(path))
 * ```
 */
export const decode = (bytes: Uint8Array, base = 0): Decoded => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<unknown> = []
  let at = 0
  while (at < bytes.length) {
    const next = frameAt(bytes, view, at)
    if (next === undefined) {
      // Not a valid frame: a torn tail, unless a valid frame starts later on.
      for (let probe = at + 1; probe + HEADER <= bytes.length; probe++) {
        if (bytes[probe] === 0x57 && frameAt(bytes, view, probe) !== undefined) {
          throw new CorruptJournal(base + at, `a damaged record followed by valid ones (the next valid one at byte ${base + probe})`)
        }
      }
      return { records, end: base + at, torn: bytes.length - at }
    }
    let record: unknown
    try {
      record = JSON.parse(decoder.decode(bytes.subarray(at + HEADER, next)))
    } catch {
      throw new CorruptJournal(base + at, "a record whose checksum holds but which is not JSON")
    }
    records.push(record)
    at = next
  }
  return { records, end: base + at, torn: 0 }
}
