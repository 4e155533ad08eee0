/**
 * Builds the packages the apps import, before anything built is imported:
 * this module uses `node:` modules only, so `npm start` works on a fresh
 * clone whose `dist/` directories do not exist yet. A package is built when
 * its `dist/` is missing or older than its `src/`; turbo builds it and what
 * it depends on (cached after the first time).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

/** The packages the apps import, built by `npm run build` (turbo) into `dist/`. */
export const packages: ReadonlyArray<string> = ["packages/primitives", "packages/pools", "packages/cluster", "packages/app"]

const newest = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const full = path.join(dir, entry.name)
    return Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs)
  }, 0)

/**
 * The packages (of `packages`) whose `dist/` is missing or older than their `src/`.
 *
 * @example
 * ```ts
 * stale("/repo") // ["packages/app"] after an edit of packages/app/src
 * ```
 */
export const stale = (root: string): Array<string> =>
  packages.filter((dir) => {
    const src = path.join(root, dir, "src")
    const dist = path.join(root, dir, "dist")
    if (!fs.existsSync(src)) return false
    if (!fs.existsSync(dist)) return true
    return newest(src) > newest(dist)
  })

/**
 * Runs `turbo run build` for `dirs` (and what they depend on); its output is shown only if it
 * fails. Returns the error's text, or undefined when the build succeeded.
 *
 * @example
 * ```ts
 * const failure = build("/repo", stale("/repo"))
 * if (failure) console.error(failure)
 * ```
 */
export const build = (root: string, dirs: ReadonlyArray<string>): string | undefined => {
  console.log(`building ${dirs.join(", ")} (turbo; cached after the first time)...`)
  const turbo = path.join(root, "node_modules", ".bin", "turbo")
  const args = ["run", "build", "--output-logs=errors-only", ...dirs.map((dir) => `--filter=./${dir}`)]
  const result = spawnSync(turbo, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
    maxBuffer: 64 * 1024 * 1024
  })
  if (result.error !== undefined) return `the build could not run (${turbo}): ${result.error.message}`
  if (result.status === 0) return undefined
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`
  return `the build failed (npm run build):\n${output.trim().split("\n").slice(-20).join("\n")}`
}
