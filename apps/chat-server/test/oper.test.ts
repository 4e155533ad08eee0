import { assert, describe, it } from "@effect/vitest"
import { hashPassword, OperConfigError, parseOpers, verifyPassword } from "../src/oper.ts"

const verify = (password: string, hash: string) => new Promise<boolean>((resolve) => verifyPassword(password, hash, resolve))

describe("operator passwords (scrypt)", () => {
  it("a hash checks its own password and no other; it holds no trace of the password; each has its own salt", async () => {
    const hash = hashPassword("hunter2", 4)
    assert.match(hash, /^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    assert.notInclude(hash, "hunter2")
    assert.notStrictEqual(hashPassword("hunter2", 4), hash)
    assert.isTrue(await verify("hunter2", hash))
    assert.isFalse(await verify("hunter3", hash))
    assert.isFalse(await verify("hunter2", "not a hash"))
  })

  it("--oper values: NAME:HASH, else a tagged error naming what was wrong", () => {
    const hash = hashPassword("x", 4)
    assert.strictEqual(parseOpers([`root:${hash}`]).get("root"), hash)
    for (const bad of ["root", ":hash", "ro ot:" + hash, "root:secret"]) {
      assert.throws(() => parseOpers([bad]), OperConfigError)
    }
    assert.throws(() => parseOpers(["root:secret"]), /not a scrypt hash/)
  })
})
