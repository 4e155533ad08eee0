/**
 * Where a server listens, and the names it answers to. `--host` is an IP
 * address (IPv4 or IPv6; `0.0.0.0` and `::` listen on every interface), the
 * default `127.0.0.1` keeps a server on loopback. A wildcard bind is shown as
 * the machine's host name, or `--public-host` when given, so a printed address
 * works from where the user sits; IPv6 literals are bracketed in URLs.
 *
 * `allows` is the DNS-rebinding rule of `Guard`: on loopback, only loopback
 * names and addresses; on another address, that address (every address of the
 * machine for a wildcard), the host name, `--public-host`, and loopback.
 *
 * @example
 * ```ts
 * import { Host } from "@weft/app"
 *
 * const bind = Host.parse("0.0.0.0") // "0.0.0.0"
 * Host.url(Host.shown(bind, "chat.example"), 8080) // "http://chat.example:8080"
 * Host.url("::1", 8080) // "http://[::1]:8080"
 * Host.allows(bind, undefined)("evil.example") // false
 * ```
 *
 * @module
 */
import * as net from "node:net"
import * as os from "node:os"
import * as Data from "effect/Data"

/**
 * The default bind: loopback only.
 *
 * @example
 * ```ts
 * Host.parse(flags.host ?? Host.loopback)
 * ```
 */
export const loopback = "127.0.0.1"

/**
 * A `--host` or `--public-host` that is not what it must be; the message names
 * the flag and the value.
 *
 * @example
 * ```ts
 * new Host.HostError({ flag: "--host", value: "nowhere", reason: "not an IPv4 or IPv6 address" }).message
 * // '--host: "nowhere" is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)'
 * ```
 */
export class HostError extends Data.TaggedError("HostError")<{
  readonly flag: string
  readonly value: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.flag}: ${JSON.stringify(this.value)} is ${this.reason}`
  }
}

const unbracket = (text: string): string => text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text

/**
 * A `--host` value: an IPv4 or IPv6 address (brackets allowed around IPv6),
 * or a `HostError`.
 *
 * @example
 * ```ts
 * Host.parse("::") // "::"
 * Host.parse("[::1]") // "::1"
 * Host.parse("localhost") // HostError: --host: "localhost" is not an IPv4 or IPv6 address ...
 * ```
 */
export const parse = (text: string, flag = "--host"): string | HostError => {
  const address = unbracket(text.trim())
  return net.isIP(address) === 0
    ? new HostError({ flag, value: text, reason: "not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::)" })
    : address
}

const NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/**
 * A `--public-host` value: a DNS name or an IP address, without a port.
 *
 * @example
 * ```ts
 * Host.parsePublic("chat.example.org") // "chat.example.org"
 * Host.parsePublic("a b") // HostError
 * ```
 */
export const parsePublic = (text: string, flag = "--public-host"): string | HostError => {
  const value = unbracket(text.trim())
  return net.isIP(value) !== 0 || NAME.test(value)
    ? value
    : new HostError({ flag, value: text, reason: "not a host name or an IP address (e.g. chat.example.org, 192.0.2.7)" })
}

/**
 * The canonical form of a host name or address as a URL has it (lower case,
 * IPv6 compressed and bracketed, IPv4 dotted), or `undefined` if it is none.
 */
const canonical = (host: string): string | undefined => {
  try {
    return new URL(`http://${net.isIPv6(host) ? `[${host}]` : host}`).hostname
  } catch {
    return undefined
  }
}

/**
 * Whether `host` listens on every interface (`0.0.0.0`, `::`).
 *
 * @example
 * ```ts
 * Host.isWildcard("::") // true
 * Host.isWildcard("127.0.0.1") // false
 * ```
 */
export const isWildcard = (host: string): boolean => {
  const c = canonical(host)
  return c === "0.0.0.0" || c === "[::]"
}

/**
 * Whether `host` (a name or an address, as in a `Host` header without its
 * port) is loopback: `localhost`, `*.localhost`, `127.0.0.0/8`, `::1`.
 *
 * @example
 * ```ts
 * Host.isLoopback("127.0.0.1") // true
 * Host.isLoopback("evil.example") // false
 * ```
 */
export const isLoopback = (host: string): boolean => {
  const c = canonical(host)
  return c !== undefined &&
    (c === "localhost" || c.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(c) || c === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(c))
}

/**
 * The name to print for a server bound to `bind`: `publicHost` when given,
 * else the machine's host name for a wildcard bind, else the address itself.
 *
 * @example
 * ```ts
 * Host.shown("127.0.0.1") // "127.0.0.1"
 * Host.shown("0.0.0.0") // os.hostname(), e.g. "build-7"
 * ```
 */
export const shown = (bind: string, publicHost?: string): string =>
  publicHost !== undefined && publicHost !== "" ? publicHost : isWildcard(bind) ? os.hostname() : bind

/**
 * Where this machine reaches a server bound to `bind`: loopback for a
 * wildcard bind, else the address itself.
 *
 * @example
 * ```ts
 * Host.local("0.0.0.0") // "127.0.0.1"
 * Host.local("::") // "::1"
 * ```
 */
export const local = (bind: string): string => isWildcard(bind) ? (net.isIPv6(bind) ? "::1" : "127.0.0.1") : bind

/**
 * `host:port`, with an IPv6 address bracketed.
 *
 * @example
 * ```ts
 * Host.authority("::1", 7000) // "[::1]:7000"
 * ```
 */
export const authority = (host: string, port: number): string => `${net.isIPv6(host) ? `[${host}]` : host}:${port}`

/**
 * A URL for `host:port` (IPv6 bracketed), without a trailing slash.
 *
 * @example
 * ```ts
 * Host.url("::1", 8080) // "http://[::1]:8080"
 * Host.url("127.0.0.1", 7000, "tcp") // "tcp://127.0.0.1:7000"
 * ```
 */
export const url = (host: string, port: number, scheme = "http"): string => `${scheme}://${authority(host, port)}`

/**
 * The rule for `Host` headers of a server bound to `bind`: a function from a
 * host name (without its port) to whether it is allowed. Loopback names and
 * addresses always are; with another bind, also that address (any address of
 * this machine for a wildcard), the host name and `publicHost`.
 *
 * @example
 * ```ts
 * const ok = Host.allows("127.0.0.1", undefined)
 * ok("localhost") // true
 * ok("evil.example") // false (DNS rebinding)
 * ```
 */
export const allows = (bind: string, publicHost?: string): (host: string) => boolean => {
  if (isLoopback(bind)) return isLoopback
  const names = new Set<string>()
  const add = (name: string | undefined) => {
    const c = name === undefined || name === "" ? undefined : canonical(name)
    if (c !== undefined) names.add(c.replace(/\.$/, ""))
  }
  add(os.hostname())
  add(publicHost)
  if (isWildcard(bind)) {
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) add(a.address.replace(/%.*$/, ""))
  } else add(bind)
  return (host) => {
    if (isLoopback(host)) return true
    const c = canonical(host)
    return c !== undefined && names.has(c.replace(/\.$/, ""))
  }
}
