/**
 * Durable writes: a purchase batch appended to the journal and `fsync`ed,
 * and a new generation (journal, then snapshot by rename, then the
 * directory `fsync`ed) so that a crash at any step leaves either the old pair
 * or the new one.
 *
 * @internal
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Journal from "../journal.ts"
import { codeOf, describe, StoreIOError } from "./errors.ts"
import type { Stored } from "./state.ts"

let tmpCounter = 0

const fsyncDirectory = (dir: string) => {
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const writeAllSync = (fd: number, bytes: Uint8Array, position?: number) => {
  let done = 0
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done)
  }
}

/**
 * Writes a new generation: journal (header only), then snapshot by rename,
 * each `fsync`ed, then the directory. Returns nothing; the caller reloads.
 */
export const writeGeneration = (file: string, total: number, orders: ReadonlyArray<Stored>, oldJournal: string | undefined) => {
  const dir = path.dirname(file)
  const generation = randomBytes(6).toString("hex")
  const journal = `${file}.${generation}.journal`
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${tmpCounter++}.tmp`)
  let renamed = false
  try {
    const jfd = fs.openSync(journal, "wx")
    try {
      writeAllSync(jfd, Journal.encode([{ t: "journal", generation }]))
      fs.fsyncSync(jfd)
    } finally {
      fs.closeSync(jfd)
    }
    const body = Buffer.from(JSON.stringify({ generation, total, journal: path.basename(journal), orders }), "utf8")
    const header = JSON.stringify({ weft: "tickets", v: 2, bytes: body.length, crc32: Journal.crc32(body) })
    const sfd = fs.openSync(tmp, "wx")
    try {
      writeAllSync(sfd, Buffer.concat([Buffer.from(header + "\n"), body, Buffer.from("\n")]))
      fs.fsyncSync(sfd)
    } finally {
      fs.closeSync(sfd)
    }
    fsyncDirectory(dir) // the new journal's name is on disk before the snapshot points at it
    fs.renameSync(tmp, file)
    renamed = true
    fsyncDirectory(dir)
  } catch (error) {
    fs.rmSync(tmp, { force: true })
    if (!renamed) fs.rmSync(journal, { force: true })
    throw new StoreIOError({ file, code: codeOf(error), problem: `cannot be written: ${describe(error)}` })
  }
  if (oldJournal !== undefined && oldJournal !== "") fs.rmSync(oldJournal, { force: true })
}

/** Runs an fs callback API as an Effect. */
const io = <A>(f: (done: (error: Error | null, value: A) => void) => void): Effect.Effect<A, NodeJS.ErrnoException> =>
  Effect.callback<A, NodeJS.ErrnoException>((resume) => {
    f((error, value) => resume(error ? Effect.fail(error) : Effect.succeed(value)))
  })

/** Appends `bytes` at `position` (or at the end: `append`), then `fsync`s. */
export const appendDurably = (journal: string, bytes: Uint8Array, position: number, append: boolean) =>
  Effect.acquireUseRelease(
    io<number>((done) => fs.open(journal, append ? "a" : "r+", done)),
    (fd) =>
      Effect.gen(function*() {
        if (!append) {
          // Cut off a torn tail left by a writer that crashed.
          const size = (yield* io<fs.Stats>((done) => fs.fstat(fd, done))).size
          if (size > position) {
            // What lies past our read is a torn tail only if it holds no whole frame: whole frames there
            // would mean another writer appended while we held the lock (it was taken over from us).
            const extra = Buffer.alloc(size - position)
            yield* io<number>((done) => fs.read(fd, extra, 0, extra.length, position, done))
            const whole = (() => {
              try {
                return Journal.decode(extra, position).records.length
              } catch {
                return 1
              }
            })()
            if (whole > 0) {
              return yield* Effect.fail(
                Object.assign(new Error(`the journal grew under our lock (it was taken over); nothing written`), { code: "ELOCKLOST" })
              )
            }
            yield* io<void>((done) => fs.ftruncate(fd, position, (e) => done(e, undefined)))
          }
        }
        let written = 0
        while (written < bytes.length) {
          written += yield* io<number>((done) =>
            fs.write(fd, bytes, written, bytes.length - written, append ? null : position + written, done)
          )
        }
        yield* io<void>((done) => fs.fsync(fd, (e) => done(e, undefined)))
      }).pipe(
        Effect.tapError((error) =>
          // A half-written batch was never confirmed: take it back (best effort). Never another writer's frames.
          append || error.code === "ELOCKLOST"
            ? Effect.void
            : io<void>((done) => fs.ftruncate(fd, position, (e) => done(e, undefined))).pipe(Effect.ignore)
        )
      ),
    (fd) => io<void>((done) => fs.close(fd, (e) => done(e, undefined))).pipe(Effect.ignore)
  )
