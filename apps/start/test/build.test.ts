// `npm start` on a fresh clone: the entry builds what the apps import before it imports
// anything built. Proved for real by .ci/run (scripts/smoke-start.mjs on a tree with no dist/);
// here, the two things that make it so.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { packages, stale } from "../src/build.ts"

const src = new URL("../src/", import.meta.url)

/** The static import specifiers of a module (dynamic `import()` is where built code may come in). */
const staticImports = (file: string): Array<string> =>
  [...fs.readFileSync(new URL(file, src), "utf8").matchAll(/^import\s[^"']*["']([^"']+)["']/gm)].map((m) => m[1]!)

describe("main.ts imports nothing built before the build", () => {
  it("main.ts, build.ts and cli.ts import only node: modules, effect (installed, not built) and each other", () => {
    const allowed = (spec: string) => spec.startsWith("node:") || spec === "effect" || spec === "./build.ts" || spec === "./cli.ts"
    for (const file of ["main.ts", "build.ts", "cli.ts"]) {
      const imports = staticImports(file)
      expect(imports.length, file).toBeGreaterThan(0)
      expect(imports.filter((spec) => !allowed(spec)), file).toEqual([])
    }
    // The launcher, which imports @weft/app, is loaded only after the build.
    expect(fs.readFileSync(new URL("main.ts", src), "utf8")).toMatch(/await import\("\.\/launcher\.ts"\)/)
    expect(staticImports("launcher.ts")).toContain("@weft/app")
  })
})

describe("stale", () => {
  const roots: Array<string> = []
  afterEach(() => {
    for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true })
  })
  const tree = () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "weft-build-"))
    roots.push(root)
    for (const dir of packages) {
      fs.mkdirSync(path.join(root, dir, "src"), { recursive: true })
      fs.writeFileSync(path.join(root, dir, "src", "index.ts"), "export {}\n")
    }
    return root
  }
  const built = (root: string, dir: string, at: Date) => {
    fs.mkdirSync(path.join(root, dir, "dist"), { recursive: true })
    fs.writeFileSync(path.join(root, dir, "dist", "index.js"), "export {}\n")
    fs.utimesSync(path.join(root, dir, "dist", "index.js"), at, at)
  }

  it("a package without dist/ is stale; one built after its sources is not; an edit makes it stale again", () => {
    const root = tree()
    expect(stale(root)).toEqual([...packages])
    const past = new Date(Date.now() - 60_000)
    for (const dir of packages) fs.utimesSync(path.join(root, dir, "src", "index.ts"), past, past)
    for (const dir of packages) built(root, dir, new Date())
    expect(stale(root)).toEqual([])
    fs.writeFileSync(path.join(root, packages[0]!, "src", "index.ts"), "export const edited = 1\n")
    const future = new Date(Date.now() + 60_000)
    fs.utimesSync(path.join(root, packages[0]!, "src", "index.ts"), future, future)
    expect(stale(root)).toEqual([packages[0]])
  })
})
