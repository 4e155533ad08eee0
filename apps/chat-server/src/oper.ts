/**
 * Server operators' passwords: only a scrypt hash of each is configured
 * (`--oper NAME:HASH`), never the password itself. The hash is a PHC-style
 * string, `$scrypt$ln=14,r=8,p=1$<salt>$<key>` (base64), made by `hashPassword`
 * (`node src/main.ts hash-password` reads a password on stdin and prints it).
 * Checking one costs tens of milliseconds, so `verifyPassword` is asynchronous
 * and runs in the worker, never in the registry's sequencer.
 *
 * @example
 * const opers = parseOpers(["root:" + hashPassword("secret")])
 * verifyPassword("secret", opers.get("root")!, (ok) => console.log(ok)) // true
 */
import { Buffer } from "node:buffer"
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto"

/** A malformed `--oper` value, or a hash not made by `hashPassword`. */
export class OperConfigError extends Error {
  readonly _tag = "OperConfigError"
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/

interface Parsed {
  readonly N: number
  readonly r: number
  readonly p: number
  readonly salt: Buffer
  readonly key: Buffer
}

const parse = (hash: string): Parsed => {
  const m = PHC.exec(hash)
  if (m === null) throw new OperConfigError(`not a scrypt hash ($scrypt$ln=14,r=8,p=1$salt$key): ${JSON.stringify(hash.slice(0, 40))}`)
  const ln = Number(m[1])
  if (ln < 1 || ln > 20) throw new OperConfigError(`scrypt cost ln=${ln} is out of range (1-20)`)
  return { N: 2 ** ln, r: Number(m[2]), p: Number(m[3]), salt: Buffer.from(m[4]!, "base64"), key: Buffer.from(m[5]!, "base64") }
}

const maxmem = (N: number, r: number) => 256 * N * r + 1024 * 1024

/**
 * A new hash of `password` with a random salt (cost 2^14, as the scrypt paper recommends for logins).
 *
 * @example hashPassword("secret") // "$scrypt$ln=14,r=8,p=1$...$..."
 */
export const hashPassword = (password: string, ln = 14): string => {
  const salt = randomBytes(16)
  const key = scryptSync(password, salt, 32, { N: 2 ** ln, r: 8, p: 1, maxmem: maxmem(2 ** ln, 8) })
  return `$scrypt$ln=${ln},r=8,p=1$${salt.toString("base64")}$${key.toString("base64")}`
}

/**
 * Checks `password` against `hash` without blocking: `done(true)` when it matches.
 *
 * @example verifyPassword("secret", hash, (ok) => ok ? grant() : refuse())
 */
export const verifyPassword = (password: string, hash: string, done: (ok: boolean) => void): void => {
  let parsed: Parsed
  try {
    parsed = parse(hash)
  } catch {
    return done(false)
  }
  scrypt(password, parsed.salt, parsed.key.length, { N: parsed.N, r: parsed.r, p: parsed.p, maxmem: maxmem(parsed.N, parsed.r) }, (error, key) => {
    // Bun passes `undefined`, Node `null`, for no error.
    done(error == null && key.length === parsed.key.length && timingSafeEqual(key, parsed.key))
  })
}

/**
 * `NAME:HASH` values (from `--oper`, repeatable) as a map, each hash checked for form.
 *
 * @example parseOpers(["root:$scrypt$ln=14,r=8,p=1$c2FsdA==$a2V5"]).has("root") // true
 */
export const parseOpers = (values: ReadonlyArray<string>): Map<string, string> => {
  const opers = new Map<string, string>()
  for (const value of values) {
    const colon = value.indexOf(":")
    const name = value.slice(0, colon)
    if (colon <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(name)) {
      throw new OperConfigError(`--oper must be NAME:HASH (NAME: 1-32 letters, digits, _ . -), got ${JSON.stringify(value.slice(0, 40))}`)
    }
    const hash = value.slice(colon + 1)
    parse(hash)
    opers.set(name, hash)
  }
  return opers
}
