/**
 * A small, honest benchmark harness: every case of a group runs in the same
 * process, interleaved round by round (so drift and GC hit them all alike),
 * after a warm-up round; the figure is the median of the rounds. Results are
 * printed as a markdown table with ops/s and the ratio to each anchor.
 */
export interface Case {
  readonly name: string
  /** Runs `ops` operations; resolves when they are all done. */
  readonly run: (ops: number) => Promise<void>
}

export interface Row {
  readonly name: string
  readonly opsPerSecond: number
  readonly extra?: string
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const measure = async (cases: ReadonlyArray<Case>, ops: number, rounds = 5): Promise<Array<Row>> => {
  for (const c of cases) await c.run(Math.max(1, Math.floor(ops / 10))) // warm-up
  const samples = cases.map(() => [] as Array<number>)
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const start = performance.now()
      await cases[i]!.run(ops)
      samples[i]!.push(ops / ((performance.now() - start) / 1000))
    }
  }
  return cases.map((c, i) => ({ name: c.name, opsPerSecond: median(samples[i]!) }))
}

const format = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(1)

/** A markdown table: one row per case, one ratio column per anchor. */
export const table = (title: string, rows: ReadonlyArray<Row>, anchors: ReadonlyArray<string>): string => {
  const anchorRows = anchors.map((name) => rows.find((r) => r.name === name)!)
  const extra = rows.some((r) => r.extra !== undefined)
  const head = `| ${title} | ops/s | ${anchors.map((a) => `vs ${a}`).join(" | ")}${extra ? " | notes" : ""} |`
  const rule = `|${" --- |".repeat(2 + anchors.length + (extra ? 1 : 0))}`
  const body = rows.map((r) =>
    `| ${r.name} | ${format(r.opsPerSecond)} | ${anchorRows.map((a) => `${(r.opsPerSecond / a.opsPerSecond).toFixed(2)}x`).join(" | ")}${extra ? ` | ${r.extra ?? ""}` : ""} |`
  )
  return [head, rule, ...body].join("\n")
}

export const runtime = (): string => {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } }
  if (g.Bun) return `bun ${g.Bun.version}`
  if (g.Deno) return `deno ${g.Deno.version.deno}`
  return `node ${process.version}`
}
