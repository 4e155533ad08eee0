import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { parse, parseDuration, UsageError } from "../src/cli.ts"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** Runs the CLI on the runtime running this suite (Deno: `run -A`). */
const cli = (...args: Array<string>) => {
  const runtimeArgs = "Deno" in globalThis ? ["run", "-A"] : []
  // spawnSync also waits for the child's stdout and stderr to close, which every
  // car process inherits: a car left behind would hold them open until the timeout.
  const result = spawnSync(process.execPath, [...runtimeArgs, main, ...args], { encoding: "utf8", timeout: 15_000 })
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

  it("bad input names the flag and what was wrong", () => {
    expect(usageError(["--scope", "bus"])).toBe(`--scope: "bus" is not a scope (use fiber, thread or process)`)
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
    expect(stderr.split("\n")[0]).toBe(`traffic-light: --scope: "bus" is not a scope (use fiber, thread or process)`)
  })

  it.each(["fiber", "process"])("a tiny run at %s scope prints the timeline and exits 0", (scope) => {
    const { error, status, stderr, stdout } = cli("--scope", scope, "--cars", "2", "--green", "60ms", "--red", "60ms", "--duration", "300ms")
    expect(error).toBeUndefined()
    expect(stderr).toBe("")
    expect(status).toBe(0)
    const lines = stdout.trim().split("\n")
    expect(lines[0]).toMatch(new RegExp(`^traffic light at ${scope} scope \\(.+\\): 2 cars, green 0.06s, red 0.06s, for 0.3s$`))
    expect(lines[1]).toBe("   0.000s  light turns RED")
    expect(lines).toContainEqual(expect.stringMatching(/^ +\d+\.\d{3}s {2}car 1 passes at \d+\.\d{3}s/))
    expect(lines).toContainEqual(expect.stringMatching(/^ +\d+\.\d{3}s {2}car 2 passes at \d+\.\d{3}s/))
    expect(lines.at(-1)).toBe("   0.300s  end: 2 of 2 cars passed")
  })

  it("a car process still waiting at the end is stopped: the CLI returns and reports it", () => {
    // Red 0-100, green 100-150, red 150-240 ms; car 3 arrives at 160 ms, on red.
    const { status, stderr, stdout } = cli("--scope", "process", "--cars", "3", "--green", "50ms", "--red", "100ms", "--duration", "240ms")
    expect(stderr).toBe("")
    expect(status).toBe(0)
    expect(stdout.trim().split("\n").at(-1)).toBe("   0.240s  end: 2 of 3 cars passed; still waiting: car 3")
  })
})
