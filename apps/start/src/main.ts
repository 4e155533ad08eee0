/**
 * `npm start` at the repository root. This entry imports nothing built: it
 * reads the flags (`--help` needs no build), builds the packages the apps
 * import if their `dist/` is missing or stale (a fresh clone has none), and
 * only then loads the launcher (launcher.ts), which imports `@weft/app`.
 *
 *   node apps/start/src/main.ts [--port 8080] [--chat-port 7000] ... (--help)
 *
 * Exit codes: 0 stopped by Ctrl-C / SIGTERM / SIGHUP (or its parent, npm,
 * died), 1 something did not start (the build failed, a port taken, an app
 * failed), 2 bad flags.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { build, stale } from "./build.ts"
import { parse, UsageError, usage } from "./cli.ts"

const root = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)))

const options = parse(process.argv.slice(2), root, process.env)
if (options === "help") console.log(usage)
else if (options instanceof UsageError) {
  console.error(`npm start: ${options.message}\n(npm start -- --help lists the options)`)
  process.exitCode = 2
} else {
  const dirs = options.build ? stale(root) : []
  const failure = dirs.length > 0 ? build(root, dirs) : undefined
  if (failure !== undefined) {
    console.error(`npm start: ${failure}`)
    process.exitCode = 1
  } else {
    const { launch } = await import("./launcher.ts")
    launch(root, options)
  }
}
