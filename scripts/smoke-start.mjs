#!/usr/bin/env node
// The README's front door, for real: `npm start -- --help`, then `npm start` on
// free ports (every port flag), from this clone, as a user runs it. Every
// address it prints must answer (HTTP 2xx/3xx; the nc and IRC ports accept a
// TCP connection). Then Ctrl-C (SIGINT to its process group, as a terminal
// sends it): npm must exit, and no process started from it may be left, nor
// any of its ports held. Bounded in time; on any failure everything it started
// is killed. Exit 0 when all holds, 1 otherwise. .ci/run runs it right after
// `npm install`, before anything else builds.
//
//   node scripts/smoke-start.mjs
import { spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(new URL("..", import.meta.url).pathname)
const LIMIT_MS = 300_000 // the whole smoke, a first build included
const START_MS = 240_000 // until "Ctrl-C stops everything."
const STOP_MS = 30_000 // npm gone after Ctrl-C
const LEFT_MS = 10_000 // then no process and no port left
const loopback = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])
const npm = process.env.npm_execpath?.endsWith("npm-cli.js") ? [process.execPath, process.env.npm_execpath] : ["npm"]

const log = (line) => console.log(`smoke: ${line}`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Processes whose environment holds `name=value` (every process npm start starts inherits it). */
const marked = (name, value) => {
  const needle = `${name}=${value}`
  const found = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") continue
      if (fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(needle)) found.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return found
}
const commandLine = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
  } catch {
    return "(gone)"
  }
}

/** A port the system says is free now (bound to 0, then let go). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
/** Whether a TCP connection to host:port is accepted within 5 s. */
const connects = (host, port) =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(5000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })
/** Whether 127.0.0.1:port can be bound again (nothing holds it). */
const bindable = (port) =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

const mark = { name: "WEFT_SMOKE_START", value: randomUUID() }
const data = fs.mkdtempSync(path.join(os.tmpdir(), "weft-smoke-"))
let child
let failed = false
const killAll = () => {
  if (child?.pid !== undefined) {
    try {
      process.kill(-child.pid, "SIGKILL")
    } catch {}
  }
  for (const pid of marked(mark.name, mark.value)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {}
  }
}
const fail = (message) => {
  failed = true
  console.error(`smoke: FAILED: ${message}`)
  if (child !== undefined) console.error(`--- npm start printed:\n${output.trim()}\n---`)
  killAll()
  fs.rmSync(data, { recursive: true, force: true })
  process.exit(1)
}
const overall = setTimeout(() => fail(`not done within ${LIMIT_MS / 1000} s`), LIMIT_MS)
let output = ""

// 1. --help: the usage, exit 0.
const help = spawnSync(npm[0], [...npm.slice(1), "start", "--", "--help"], { cwd: root, encoding: "utf8", timeout: 120_000 })
if (help.status !== 0 || !help.stdout.includes("usage: npm start")) {
  fail(`npm start -- --help exited ${help.status ?? help.signal}:\n${help.stdout}${help.stderr}`)
}
log("npm start -- --help prints the usage")

// 2. npm start on free ports.
const flags = ["port", "chat-port", "irc-port", "chat-http-port", "tickets-port", "traffic-port"]
const ports = []
for (const flag of flags) {
  let port
  do port = await freePort()
  while (ports.includes(port))
  ports.push(port)
}
const args = [...flags.flatMap((flag, i) => [`--${flag}`, String(ports[i])]), "--data", data]
log(`npm start -- ${args.join(" ")}`)
child = spawn(npm[0], [...npm.slice(1), "start", "--", ...args], {
  cwd: root,
  detached: true, // its own process group: the Ctrl-C below goes to it, as a terminal's would
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, [mark.name]: mark.value }
})
child.stdout.on("data", (chunk) => void (output += chunk))
child.stderr.on("data", (chunk) => void (output += chunk))
const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)))

const startDeadline = Date.now() + START_MS
while (!/^Ctrl-C stops everything\.$/m.test(output)) {
  if (child.exitCode !== null || child.signalCode !== null) fail(`npm start exited (${child.exitCode ?? child.signalCode}) before it was running`)
  if (Date.now() > startDeadline) fail(`npm start printed no "Ctrl-C stops everything." within ${START_MS / 1000} s`)
  await sleep(100)
}
const banner = output.slice(output.indexOf("Weft is running:"), output.indexOf("Ctrl-C stops everything."))

// 3. Every printed address answers.
const checks = []
for (const line of banner.split("\n").slice(1)) {
  const http = /\b(https?):\/\/(\[[^\]]+\]|[^/:\s]+):(\d+)\S*/.exec(line)
  const nc = /\bnc (\S+) (\d+)\b/.exec(line)
  const irc = /-c (\S+) -p (\d+)\b/.exec(line)
  if (http) checks.push({ line: line.trim(), kind: "http", url: http[0], host: http[2], port: Number(http[3]) })
  else if (nc) checks.push({ line: line.trim(), kind: "tcp", host: nc[1], port: Number(nc[2]) })
  else if (irc) checks.push({ line: line.trim(), kind: "tcp", host: irc[1], port: Number(irc[2]) })
}
if (checks.length < flags.length) fail(`expected ${flags.length} addresses, read ${checks.length} from:\n${banner}`)
for (const check of checks) {
  // Only this machine is ever a target.
  if (!loopback.has(check.host)) fail(`${check.line}: ${check.host} is not a loopback address`)
  if (!ports.includes(check.port)) fail(`${check.line}: port ${check.port} is none of the ports given (${ports.join(", ")})`)
  if (check.kind === "http") {
    let status
    try {
      const response = await fetch(check.url, { redirect: "manual", signal: AbortSignal.timeout(10_000) })
      await response.body?.cancel()
      status = response.status
    } catch (error) {
      fail(`${check.url} did not answer: ${error instanceof Error ? error.message : error}`)
    }
    if (status < 200 || status >= 400) fail(`${check.url} answered ${status}`)
    log(`${check.url} answers ${status}`)
  } else {
    if (!(await connects(check.host, check.port))) fail(`${check.line}: no TCP connection to ${check.host}:${check.port}`)
    log(`${check.host}:${check.port} accepts a connection (${check.line.split(/\s{2,}/)[0]})`)
  }
}

// 4. Ctrl-C: npm exits, nothing of it is left, every port is free.
const running = marked(mark.name, mark.value)
log(`Ctrl-C (SIGINT to the process group; ${running.length} processes run)`)
process.kill(-child.pid, "SIGINT")
const code = await Promise.race([exited, sleep(STOP_MS).then(() => "timeout")])
if (code === "timeout") fail(`npm start still runs ${STOP_MS / 1000} s after Ctrl-C`)
log(`npm start exited (${code})`)
const leftDeadline = Date.now() + LEFT_MS
let left = marked(mark.name, mark.value)
while (left.length > 0 && Date.now() < leftDeadline) {
  await sleep(100)
  left = marked(mark.name, mark.value)
}
if (left.length > 0) fail(`left running after Ctrl-C:\n${left.map((pid) => `  ${pid} ${commandLine(pid)}`).join("\n")}`)
const held = []
for (const port of ports) if (!(await bindable(port))) held.push(port)
if (held.length > 0) fail(`ports still held after Ctrl-C: ${held.join(", ")}`)
log(`no process left, every port free`)

clearTimeout(overall)
fs.rmSync(data, { recursive: true, force: true })
if (!failed) log("npm start works: every address answered, Ctrl-C left nothing")
