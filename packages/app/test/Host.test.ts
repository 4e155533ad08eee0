import * as os from "node:os"
import { describe, expect, it } from "vitest"
import * as Host from "../src/Host.ts"

describe("Host", () => {
  it("--host takes any IPv4 or IPv6 address, wildcards included, and names what is wrong otherwise", () => {
    for (const [text, address] of [["127.0.0.1", "127.0.0.1"], ["0.0.0.0", "0.0.0.0"], ["::", "::"], ["[::1]", "::1"], ["192.0.2.7", "192.0.2.7"], ["fe80::1", "fe80::1"]]) {
      expect(Host.parse(text!)).toBe(address)
    }
    for (const text of ["localhost", "", "256.1.1.1", "1.2.3", "::g"]) {
      const error = Host.parse(text)
      expect(error).toBeInstanceOf(Host.HostError)
      expect((error as Host.HostError).message).toBe(`--host: ${JSON.stringify(text)} is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)`)
    }
  })

  it("--public-host takes a host name or an address, without a port", () => {
    expect(Host.parsePublic("chat.example.org")).toBe("chat.example.org")
    expect(Host.parsePublic("box-7")).toBe("box-7")
    expect(Host.parsePublic("2001:db8::1")).toBe("2001:db8::1")
    for (const text of ["a b", "host:8080", "-x", "http://x", ""]) expect(Host.parsePublic(text)).toBeInstanceOf(Host.HostError)
  })

  it("a wildcard bind is shown as the host name or --public-host; connected to through loopback", () => {
    expect(Host.isWildcard("0.0.0.0")).toBe(true)
    expect(Host.isWildcard("::")).toBe(true)
    expect(Host.isWildcard("0:0:0:0:0:0:0:0")).toBe(true)
    expect(Host.isWildcard("127.0.0.1")).toBe(false)
    expect(Host.shown("0.0.0.0")).toBe(os.hostname())
    expect(Host.shown("::", "chat.example.org")).toBe("chat.example.org")
    expect(Host.shown("192.0.2.7")).toBe("192.0.2.7")
    expect(Host.local("0.0.0.0")).toBe("127.0.0.1")
    expect(Host.local("::")).toBe("::1")
    expect(Host.local("::1")).toBe("::1")
  })

  it("URLs bracket IPv6 literals", () => {
    expect(Host.url("::1", 8080)).toBe("http://[::1]:8080")
    expect(Host.url("127.0.0.1", 7000, "tcp")).toBe("tcp://127.0.0.1:7000")
    expect(Host.authority("2001:db8::1", 6667)).toBe("[2001:db8::1]:6667")
    expect(Host.authority("box", 6667)).toBe("box:6667")
  })

  it("loopback names and addresses are loopback; nothing else is", () => {
    for (const h of ["localhost", "LOCALHOST", "x.localhost", "127.0.0.1", "127.9.8.7", "[::1]", "::1", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"]) {
      expect(Host.isLoopback(h), h).toBe(true)
    }
    for (const h of ["evil.example", "localhost.evil.example", "128.0.0.1", "[::2]", "0.0.0.0", "", "a b"]) expect(Host.isLoopback(h), h).toBe(false)
  })
})
