import { assert, describe, it } from "@effect/vitest"
import * as Journal from "../src/journal.ts"

const records = [{ t: "journal", generation: "g" }, { t: "order", seat: 1 }, { t: "order", seat: 2, buyer: "ädä" }]

describe("Journal framing", () => {
  it("crc32 is zlib's CRC-32", () => {
    assert.strictEqual(Journal.crc32(new TextEncoder().encode("123456789")), 0xcbf43926)
  })

  it("frames decode to the records they were made of", () => {
    const bytes = Journal.encode(records)
    assert.deepStrictEqual(Journal.decode(bytes), { records, end: bytes.length, torn: 0 })
    assert.deepStrictEqual(Journal.decode(new Uint8Array(0)), { records: [], end: 0, torn: 0 })
  })

  it("a last write cut at any byte is a torn tail: the whole frames before it are kept", () => {
    const head = Journal.encode(records.slice(0, 2))
    const last = Journal.encode(records.slice(2))
    for (let cut = 1; cut < last.length; cut++) {
      const bytes = new Uint8Array([...head, ...last.subarray(0, cut)])
      const decoded = Journal.decode(bytes)
      assert.deepStrictEqual(decoded.records, records.slice(0, 2), `cut at ${cut}`)
      assert.strictEqual(decoded.end, head.length)
      assert.strictEqual(decoded.torn, cut)
    }
  })

  it("a tail of zeros (the size grew, the data never came) is torn, not data", () => {
    const head = Journal.encode(records)
    const decoded = Journal.decode(new Uint8Array([...head, ...new Uint8Array(100)]))
    assert.deepStrictEqual(decoded, { records, end: head.length, torn: 100 })
  })

  it("a damaged last frame is torn; a damaged frame with valid ones after it is corruption", () => {
    const bytes = Journal.encode(records)
    const lastByte = new Uint8Array(bytes)
    lastByte[lastByte.length - 1]! ^= 0xff
    assert.strictEqual(Journal.decode(lastByte).records.length, 2)
    const middle = new Uint8Array(bytes)
    const second = Journal.encode(records.slice(0, 1)).length
    middle[second + 14]! ^= 0x01 // a payload byte of the second frame
    assert.throws(() => Journal.decode(middle), Journal.CorruptJournal, "a damaged record followed by valid ones")
    const length = new Uint8Array(bytes)
    length[second + 5]! ^= 0x40 // the second frame's length field
    assert.throws(() => Journal.decode(length), Journal.CorruptJournal)
  })
})
