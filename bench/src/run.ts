/**
 * `npm run bench`: every benchmark group in its own process, one after the
 * other (never in parallel: they would measure each other). Each group prints
 * a markdown table; paste them into `bench/RESULTS.md` with this command.
 *
 * `npm run bench -- primitives threads` runs only the named groups; each is
 * `src/<group>/main.ts`, with its worker scripts beside it.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"

const groups = ["primitives", "threads", "process", "pools", "chat", "ticketing", "cluster", "traffic-light"]
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : groups
let failed = false
for (const group of chosen) {
  const file = new URL(`./${group}/main.ts`, import.meta.url).pathname
  if (!existsSync(file)) {
    console.log(`(no bench group "${group}")`)
    continue
  }
  console.log(`\n## ${group}\n`)
  const result = spawnSync(process.execPath, [file], { stdio: "inherit" })
  failed ||= result.status !== 0
}
process.exit(failed ? 1 : 0)
