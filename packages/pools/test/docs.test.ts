// Every ```ts example in a doc comment under src/ compiles: each one is
// written out as a module (its own imports on top, the names the docs use
// without importing them imported or declared for it, its body inside
// Effect.gen so `yield*` works, or an async function when it awaits), and
// the TypeScript compiler checks them all, run by the pinned Node.
import { spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = join(root, ".weft-tmp", "doc-examples")

/** What an example may use without importing it. */
const prelude: Array<[string, string, boolean]> = [
  ...["Cause", "Duration", "Effect", "Exit", "Fiber", "Option", "Stream"].map((n) => [n, "effect", false] as [string, string, boolean]),
  ...["InvalidArgumentError", "Pool", "PoolClosedError", "PoolFullError", "PoolRunningError", "ProcessPool", "TaskError",
    "TaskTimeoutError", "ThreadPool", "WorkerCrashedError", "currentSignal", "defineWorker", "isWorkerDefinition", "transfer"]
    .map((n) => [n, "@weft/pools", false] as [string, string, boolean]),
  ...["PoolKind", "TaskContext", "TaskFunction", "Transfer", "WorkerDefinition"].map((n) => [n, "@weft/pools", true] as [string, string, boolean]),
  ...["TransferTypeId", "WorkerDefinitionTypeId", "isTransfer"].map((n) => [n, "@weft/pools/worker", false] as [string, string, boolean])
]
/** Values the examples talk about, declared for them. */
const declared = "declare const pool: Pool.Pool\n"

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

interface Example {
  readonly where: string
  readonly code: string
}

const examples = (): Array<Example> => {
  const found: Array<Example> = []
  for (const file of sourceFiles(join(root, "src"))) {
    const text = readFileSync(file, "utf8")
    for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
      const lines = comment[1]!.split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
      let start = -1
      for (let i = 0; i < lines.length; i++) {
        if (start < 0 && lines[i]!.trim() === "```ts") start = i + 1
        else if (start >= 0 && lines[i]!.trim() === "```") {
          const line = text.slice(0, comment.index).split("\n").length + start
          found.push({ where: `${file.slice(root.length)}:${line}`, code: lines.slice(start, i).join("\n") })
          start = -1
        }
      }
    }
  }
  return found
}

const importedNames = (imports: string): Set<string> => {
  const names = new Set<string>()
  for (const m of imports.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()!.trim()
      if (name !== "") names.add(name)
    }
  }
  for (const m of imports.matchAll(/import\s+(?:type\s+)?\*\s+as\s+(\w+)/g)) names.add(m[1]!)
  for (const m of imports.matchAll(/import\s+(?:type\s+)?(\w+)\s+from/g)) names.add(m[1]!)
  return names
}

const toModule = (example: Example): string => {
  const lines = example.code.split("\n")
  const imports = lines.filter((line) => /^import\s/.test(line)).join("\n")
  let body = lines.filter((line) => !/^import\s/.test(line)).join("\n")
  body = body.replace(/^export default /m, "const _default = ")
  const own = importedNames(imports)
  const preludeImports = prelude
    .filter(([name]) => !own.has(name) && !new RegExp(`(const|let|function|class|type|interface) ${name}\\b`).test(body))
    .map(([name, from, type]) => `import ${type ? "type " : ""}{ ${name} } from "${from}"`)
    .join("\n")
  const wrapped = /\bawait\b/.test(body) && !/\byield\*/.test(body)
    ? `export const example = async () => {\n${body}\n}`
    : `export const example = Effect.gen(function*() {\n${body}\n})`
  return `// ${example.where}\n${imports}\n${preludeImports}\n${own.has("pool") ? "" : declared}\n${wrapped}\n`
}

describe("doc comment examples", () => {
  it("every ```ts example in src/ type-checks", () => {
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const all = examples()
    expect(all.length).toBeGreaterThan(30)
    all.forEach((example, i) => writeFileSync(join(out, `example${i}.ts`), toModule(example)))
    // The worker module the examples name as "./worker.ts": the README's.
    writeFileSync(join(out, "worker.ts"), "export { default } from \"../../examples/worker.ts\"\n")
    writeFileSync(
      join(out, "tsconfig.json"),
      JSON.stringify({
        extends: "../../tsconfig.json",
        compilerOptions: { rootDir: "../..", noUnusedLocals: false, noUnusedParameters: false },
        include: ["./*.ts"]
      })
    )
    const node = join(root, "../../node_modules/.bin/node")
    const tsc = join(root, "../../node_modules/typescript/bin/tsc")
    const result = spawnSync(node, [tsc, "-p", join(out, "tsconfig.json"), "--noEmit", "--pretty", "false"], { encoding: "utf8", timeout: 120_000 })
    // Name the doc comment each error comes from.
    const errors = result.stdout.split("\n").filter((line) => line.includes("error TS")).map((line) => {
      const file = /example(\d+)\.ts/.exec(line)
      return file === null ? line : `${all[Number(file[1])]!.where}: ${line.replace(/^.*?error /, "error ")}`
    })
    expect(errors).toEqual([])
    expect(result.status).toBe(0)
  }, 120_000)
})
