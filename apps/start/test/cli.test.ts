import { describe, expect, it } from "vitest"
import { defaults, parse, UsageError } from "../src/cli.ts"

const root = "/repo"

describe("npm start's flags", () => {
  it("fixed defaults: landing 8080, chat 7000, IRC 6667, chat web 8081, tickets 8082, traffic light 8083", () => {
    expect(parse([], root)).toEqual({
      port: 8080,
      chatPort: 7000,
      ircPort: 6667,
      chatHttpPort: 8081,
      ticketsPort: 8082,
      trafficPort: 8083,
      workers: defaults.workers,
      data: "/repo/data",
      build: true,
      host: "127.0.0.1",
      publicHost: undefined
    })
  })

  it("each is overridable; port 0 picks a free one; --no-build; --data", () => {
    expect(parse(["--port", "9000", "--chat-port", "0", "--irc-port", "0", "--tickets-port=9002", "--workers", "1", "--data", "/tmp/d", "--no-build"], root))
      .toMatchObject({ port: 9000, chatPort: 0, ircPort: 0, ticketsPort: 9002, workers: 1, data: "/tmp/d", build: false })
    expect(parse(["--help"], root)).toBe("help")
  })

  it("bad flags name what was wrong", () => {
    const message = (argv: Array<string>) => {
      const result = parse(argv, root)
      expect(result).toBeInstanceOf(UsageError)
      return (result as UsageError).message
    }
    expect(message(["--port", "x"])).toBe(`--port: "x" is not a whole number from 0 to 65535`)
    expect(message(["--port", "70000"])).toContain("--port")
    expect(message(["--workers", "0"])).toBe(`--workers: "0" is not a whole number from 1 to 16`)
    expect(message(["--tickets-port", "8080"])).toBe("--tickets-port and --port are both 8080")
    expect(message(["--frob"])).toContain("--frob")
  })

  it("--cluster URL: a postgres:// URL naming a server; without it, no cluster (and no database)", () => {
    expect(parse([], root)).not.toHaveProperty("cluster")
    expect(parse(["--cluster", "postgres://weft@db.example:5432/weft"], root)).toMatchObject({ cluster: "postgres://weft@db.example:5432/weft" })
    expect(parse(["--cluster=postgresql://weft@localhost/weft?host=/run/postgresql"], root))
      .toMatchObject({ cluster: "postgresql://weft@localhost/weft?host=/run/postgresql" })
    const message = (url: string) => (parse(["--cluster", url], root) as UsageError).message
    expect(message("db.example:5432")).toBe(`--cluster: "db.example:5432" is not a PostgreSQL URL: the scheme must be postgres:, not db.example: (e.g. postgres://user@db.example:5432/weft)`)
    expect(message("not a url")).toBe(`--cluster: "not a url" is not a URL (e.g. postgres://user@db.example:5432/weft)`)
    expect(message("mysql://db/weft")).toContain("the scheme must be postgres:, not mysql:")
    expect(message("postgres:///weft")).toBe(`--cluster: "postgres:///weft" names no server (e.g. postgres://user@db.example:5432/weft)`)
    // The password is not printed back.
    expect(message("http://weft:s3cret@db/weft")).not.toContain("s3cret")
    expect(parse(["--cluster"], root)).toBeInstanceOf(UsageError)
    // WEFT_CLUSTER_URL (which the chat reads too) is the default; --cluster wins; a bad one is named.
    expect(parse([], root, { WEFT_CLUSTER_URL: "postgres://a@db/w" })).toMatchObject({ cluster: "postgres://a@db/w" })
    expect(parse(["--cluster", "postgres://b@db/w"], root, { WEFT_CLUSTER_URL: "postgres://a@db/w" })).toMatchObject({ cluster: "postgres://b@db/w" })
    expect((parse([], root, { WEFT_CLUSTER_URL: "db" }) as UsageError).message).toMatch(/^WEFT_CLUSTER_URL: "db" is not a/)
  })
})
