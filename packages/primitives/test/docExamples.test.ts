// Every ```ts example in a doc comment under src/ type-checks against the
// package's sources, as the README's examples run (test/examples.test.ts).
// Each example becomes a module of its own: a fragment without imports gets
// the package's and Effect's names, and one that uses `yield*` at its top
// level is wrapped in `Effect.gen`, which is how it is meant to be read
// (its `declare const` lines, what the fragment assumes, stay outside).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = path.join(root, ".weft-tmp", `doc-examples-${process.pid}`)
const isNode = !("Bun" in globalThis) && !("Deno" in globalThis)

// What an example may use without importing it: Effect's common modules,
// every module and error the package exports (read from src/index.ts), and
// `workerData` / `Worker` for the examples that run in a worker thread. An
// example's own imports take precedence.
const preludeNames = (): Array<readonly [name: string, from: string]> => {
  const index = fs.readFileSync(path.join(root, "src", "index.ts"), "utf8")
  const modules = [...index.matchAll(/^export \* as (\w+) from/gm)].map((m) => m[1]!)
  const errors = [...fs.readFileSync(path.join(root, "src", "errors.ts"), "utf8").matchAll(/^export class (\w+)/gm)].map((m) => m[1]!)
  return [
    ...["Cause", "Duration", "Effect", "Exit", "Fiber", "Option", "Order", "pipe"].map((name) => [name, "effect"] as const),
    ...[...modules, ...errors].map((name) => [name, "@weft/primitives"] as const),
    ...["workerData", "Worker"].map((name) => [name, "node:worker_threads"] as const)
  ]
}

const prelude = (imports: ReadonlyArray<string>): Array<string> => {
  const taken = new Set(imports.flatMap((line) => {
    const named = /\{([^}]*)\}/.exec(line)?.[1]?.split(",").map((part) => part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()!) ?? []
    const star = /\*\s+as\s+(\w+)/.exec(line)?.[1]
    const fallback = /^import\s+(\w+)\s+from/.exec(line)?.[1]
    return [...named, ...(star ? [star] : []), ...(fallback ? [fallback] : [])]
  }))
  const bySource = new Map<string, Array<string>>()
  for (const [name, from] of preludeNames()) {
    if (!taken.has(name)) bySource.set(from, [...(bySource.get(from) ?? []), name])
  }
  return [...bySource].map(([from, names]) => `import { ${names.join(", ")} } from "${from}"`)
}

interface Example {
  readonly file: string
  readonly line: number
  readonly code: string
}

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(path.join(dir, entry.name)) : entry.name.endsWith(".ts") ? [path.join(dir, entry.name)] : []
  )

/** The ```ts blocks of the doc comments in `file`, without their ` * ` margins. */
const examplesOf = (file: string): Array<Example> => {
  const lines = fs.readFileSync(file, "utf8").split("\n")
  const found: Array<Example> = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s*```ts\s*$/.test(lines[i]!)) continue
    const start = i + 1
    const body: Array<string> = []
    for (i = start; i < lines.length && !/^\s*\*\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.replace(/^\s*\* ?/, ""))
    found.push({ file: path.relative(root, file), line: start, code: body.join("\n") })
  }
  return found
}

/** A module that type-checks the example as it is meant to be read. */
const moduleOf = (example: Example): string => {
  const lines = example.code.split("\n")
  const imports = lines.filter((line) => line.startsWith("import "))
  // `declare` lines state what a fragment assumes; they stay at module level.
  const declared = lines.filter((line) => line.startsWith("declare "))
  const body = lines.filter((line) => !line.startsWith("import ") && !line.startsWith("declare "))
  const header = [...imports, ...prelude(imports), ...declared]
  const usesYield = /(^|[^\w])yield\*/.test(body.join("\n").replace(/function\*\s*\([^)]*\)\s*\{[\s\S]*?\n\s*\}\)/g, ""))
  const wrapped = usesYield ? ["export const example = Effect.gen(function*() {", ...body, "})"] : [...body, "export {}"]
  return [`// ${example.file}:${example.line}`, ...header, ...wrapped, ""].join("\n")
}

describe("doc comment examples", () => {
  it.skipIf(!isNode)("every ```ts example in src/ type-checks (once, on node: type-checking does not depend on the runtime)", () => {
    const examples = sources(path.join(root, "src")).flatMap(examplesOf)
    expect(examples.length).toBeGreaterThan(100)
    fs.rmSync(out, { recursive: true, force: true })
    fs.mkdirSync(out, { recursive: true })
    try {
      examples.forEach((example, i) => fs.writeFileSync(path.join(out, `example${i}.ts`), moduleOf(example)))
      const relative = (p: string) => path.relative(out, path.join(root, p))
      fs.writeFileSync(path.join(out, "tsconfig.json"), JSON.stringify({
        extends: relative("../../tsconfig.base.json"),
        compilerOptions: {
          noEmit: true,
          noUnusedLocals: false,
          noUnusedParameters: false,
          types: ["node"],
          paths: {
            "@weft/primitives": [relative("src/index.ts")],
            "@weft/primitives/validate": [relative("src/validate.ts")],
            "@weft/primitives/json": [relative("src/json.ts")],
            "@weft/primitives/Permits": [relative("src/internal/Permits.ts")],
            "@weft/primitives/compat/async-mutex": [relative("src/compat/async-mutex.ts")]
          }
        },
        include: ["*.ts"]
      }))
      const tsc = fileURLToPath(new URL("../../../node_modules/.bin/tsc", import.meta.url))
      const result = spawnSync(tsc, ["-p", path.join(out, "tsconfig.json")], { encoding: "utf8", timeout: 120_000 })
      // Name each failing example by where it is in src/, not by its generated file.
      const report = (result.stdout + result.stderr).replace(/example(\d+)\.ts\((\d+),\d+\)/g, (_, n: string, line: string) => {
        const example = examples[Number(n)]!
        const offset = Number(line) - 1 - (moduleOf(example).split("\n").length - example.code.split("\n").length - 2)
        return `${example.file}:${example.line + Math.max(0, offset)}`
      })
      expect(report).toBe("")
      expect(result.status).toBe(0)
    } finally {
      fs.rmSync(out, { recursive: true, force: true })
    }
  }, 120_000)
})
