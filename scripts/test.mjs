#!/usr/bin/env node
// `npm test`: every workspace's vitest suite on Node, Bun and Deno through turbo,
// then one summary line summed over every workspace and runtime, e.g.
// "123 passed, 0 failed, 2 skipped". A suite that crashed before writing its
// report counts as a failure, so a silent crash cannot pass.
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const runtimes = { test: "node", "test:bun": "bun", "test:deno": "deno" }
const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))

const workspaces = rootPackage.workspaces.flatMap((pattern) => {
  if (!pattern.endsWith("/*")) return [pattern]
  const dir = join(root, pattern.slice(0, -2))
  return existsSync(dir) ? readdirSync(dir).map((name) => `${pattern.slice(0, -2)}/${name}`) : []
}).filter((dir) => existsSync(join(root, dir, "package.json")))

const expected = []
for (const dir of workspaces) {
  const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"))
  rmSync(join(root, dir, ".results"), { recursive: true, force: true })
  for (const [script, runtime] of Object.entries(runtimes)) {
    if (pkg.scripts?.[script]) expected.push({ dir, runtime, file: join(root, dir, ".results", `${runtime}.json`) })
  }
}

const tasks = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(runtimes)
const turbo = spawnSync(
  join(root, "node_modules", ".bin", "turbo"),
  ["run", ...tasks, "--concurrency=2", "--continue"],
  { cwd: root, stdio: "inherit", env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" } }
)

let passed = 0
let failed = 0
let skipped = 0
const problems = []
for (const { dir, runtime, file } of expected) {
  if (!tasks.includes(Object.keys(runtimes).find((k) => runtimes[k] === runtime))) continue
  if (!existsSync(file)) {
    failed++
    problems.push(`${dir} on ${runtime}: no report (the suite crashed or did not run)`)
    continue
  }
  const report = JSON.parse(readFileSync(file, "utf8"))
  passed += report.numPassedTests
  failed += report.numFailedTests
  skipped += report.numPendingTests + (report.numTodoTests ?? 0)
  if (report.numFailedTests > 0) problems.push(`${dir} on ${runtime}: ${report.numFailedTests} failed`)
  // A test file that failed to load counts no tests; count it as a failure.
  const broken = report.testResults.filter((r) => r.status === "failed" && r.assertionResults.length === 0)
  for (const r of broken) {
    failed++
    problems.push(`${dir} on ${runtime}: ${r.name} did not load: ${r.message.split("\n")[0]}`)
  }
}
if (turbo.status !== 0 && failed === 0) {
  failed++
  problems.push(`turbo exited with status ${turbo.status}`)
}
for (const problem of problems) console.log(`  - ${problem}`)
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed === 0 && turbo.status === 0 ? 0 : 1)
