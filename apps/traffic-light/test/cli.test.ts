import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { argv } from "@weft/testkit"
import { describe, expect, it } from "vitest"
import * as os from "node:os"
import { parse, parseCars, parseDuration, parseServe, UsageError } from "../src/cli.ts"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** Runs the CLI on the runtime running this suite (Deno: `run -A`). */
const cli = (...args: Array<string>) => {
  const [command, ...rest] = argv(main, args)
  // spawnSync also waits for the child's stdout and stderr to close, which every
  // car process inherits: a car left behind would hold them open until the timeout.
  const result = spawnSync(command, rest, { encoding: "utf8", timeout: 15_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, error: result.error }
}

const usageError = (argv: Array<string>): string => {
  const result = parse(argv)
  expect(result).toBeInstanceOf(UsageError)
  return (result as UsageError).message
}

describe("flags", () => {
  it("defaults: fiber scope, 5 cars, green 2s, red 3s, for 10s", () => {
    expect(parse([])).toEqual({ scope: "fiber", cars: 5, green: 2000, red: 3000, duration: 10_000 })
    expect(parse(["--scope", "process", "--cars", "3", "--green", "1.5s", "--red", "250ms", "--duration=1m"])).toEqual(
      { scope: "process", cars: 3, green: 1500, red: 250, duration: 60_000 }
    )
    expect(parse(["--help"])).toBe("help")
  })

  it("--cluster URL: the cluster scope, this machine named by --machine or its host name; bad URLs and names are refused, naming the flag", () => {
    const url = "postgres://weft@db.example:5432/weft"
    expect(parse(["--cluster", url])).toMatchObject({ scope: "cluster", cluster: { url, machine: os.hostname() } })
    expect(parse(["--scope", "cluster", "--cluster", url, "--machine", "lights-2"])).toMatchObject({ cluster: { url, machine: "lights-2" } })
    expect(usageError(["--scope", "fiber", "--cluster", url])).toBe("--cluster: only with --scope cluster (not fiber)")
    expect(usageError(["--cluster", "db.example"])).toBe(`--cluster: "db.example" is not a PostgreSQL URL (e.g. postgres://user@db.example:5432/weft)`)
    expect(usageError(["--cluster", "https://db.example/weft"])).toContain("its scheme is https: and must be postgres:")
    expect(usageError(["--cluster", "postgres:///weft"])).toContain("names no server")
    expect(usageError(["--cluster", "http://weft:s3cret@db/weft"])).not.toContain("s3cret")
    expect(usageError(["--cluster", url, "--machine", "two words"])).toContain(`--machine: "two words" is not a machine name`)
    expect(usageError(["--machine", "m1"])).toBe("--machine: only with --cluster")
    // serve: the form's first scope; a cluster run needs the cluster.
    expect(parseServe(["--cluster", url])).toMatchObject({ scope: "cluster", cluster: { url } })
    expect(parseServe([])).toMatchObject({ scope: "fiber", cluster: undefined })
    expect((parseServe(["--scope", "cluster"]) as UsageError).message).toBe("--scope cluster: needs --cluster URL")
    // cars: the URL from the flag or WEFT_CLUSTER_URL; 1 to 50 cars.
    expect(parseCars(["--cluster", url, "--count", "3", "--machine", "m2"], {})).toEqual({ cluster: { url, machine: "m2" }, count: 3 })
    expect(parseCars([], { WEFT_CLUSTER_URL: url })).toMatchObject({ cluster: { url }, count: 5 })
    expect((parseCars([], {}) as UsageError).message).toContain("--cluster: missing")
    expect((parseCars(["--cluster", url, "--count", "51"], {}) as UsageError).message).toBe(`--count: "51" is not a whole number from 1 to 50`)
  })

  it("bad input names the flag and what was wrong", () => {
    expect(usageError(["--scope", "bus"])).toBe(`--scope: "bus" is not a scope (use fiber, thread, process or cluster)`)
    expect(usageError(["--cars", "0"])).toBe(`--cars: "0" is not a whole number from 1 to 50`)
    expect(usageError(["--cars", "2.5"])).toContain("--cars")
    expect(usageError(["--cars", "51"])).toContain("from 1 to 50")
    expect(usageError(["--green", "2"])).toBe(`--green: "2" is not a duration (use e.g. 500ms, 2s, 1.5s, 1m)`)
    expect(usageError(["--red", "-3s"])).toContain("--red")
    expect(usageError(["--duration", "0ms"])).toBe(`--duration: "0ms" is too short (at least 1ms)`)
    expect(usageError(["--frob"])).toContain("--frob")
    expect(usageError(["--cars"])).toContain("--cars")
    expect(usageError(["fiber"])).toContain("fiber")
    expect(parseDuration("green", "0.5s")).toBe(500)
  })
})

describe("the CLI as a child process", () => {
  it("a bad flag: exit code 2 and a one-line reason on stderr", () => {
    const { status, stderr, stdout } = cli("--scope", "bus")
    expect(status).toBe(2)
    expect(stdout).toBe("")
    expect(stderr.split("\n")[0]).toBe(`traffic-light: --scope: "bus" is not a scope (use fiber, thread, process or cluster)`)
  })

  it.each(["fiber", "process"])("a tiny run at %s scope prints the timeline and exits 0", (scope) => {
    // Red 0-60, green 60-120, red 120-180, green from 180 (the run ends at 330, on green); cars at 0 and 165 ms.
    const { error, status, stderr, stdout } = cli("--scope", scope, "--cars", "2", "--green", "60ms", "--red", "60ms", "--duration", "330ms")
    expect(error).toBeUndefined()
    expect(stderr).toBe("")
    expect(status).toBe(0)
    const lines = stdout.trim().split("\n")
    expect(lines[0]).toMatch(new RegExp(`^traffic light at ${scope} scope \\(.+\\): 2 cars, green 0.06s, red 0.06s, for 0.33s$`))
    expect(lines[1]).toBe("   0.000s  light turns RED")
    expect(lines).toContainEqual(expect.stringMatching(/^ +\d+\.\d{3}s {2}car 1 passes at \d+\.\d{3}s/))
    expect(lines).toContainEqual(expect.stringMatching(/^ +\d+\.\d{3}s {2}car 2 passes at \d+\.\d{3}s/))
    expect(lines.at(-1)).toBe("   0.330s  end: 2 of 2 cars passed")
  })

  it("a car process still waiting at the end is stopped: the CLI returns and reports it", () => {
    // Red 0-150, green 150-300, red 300-450 ms; cars at 0, 112, 225, 337: car 4 arrives on red
    // (car 3 too, should the machine hold it up for 75 ms).
    const { status, stderr, stdout } = cli("--scope", "process", "--cars", "4", "--green", "150ms", "--red", "150ms", "--duration", "450ms")
    expect(stderr).toBe("")
    expect(status).toBe(0)
    expect(stdout.trim().split("\n").at(-1)).toMatch(/^ {3}0\.450s {2}end: [23] of 4 cars passed; still waiting: (car 3, )?car 4$/)
  })
})
