/**
 * Real IRC clients against the server: Debian's `ii` (files and FIFOs) and
 * irssi (a terminal client, driven under tmux). Each registers, exchanges
 * messages with an nc-style client both ways, and quits. Where a client is
 * not installed (`.ci/run` installs them with apt-get) the test says it is
 * skipped and why.
 */
import { describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { connect, poll, startServer } from "./helpers.ts"

const has = (bin: string) => fs.existsSync(bin)
const II = "/usr/bin/ii"
const IRSSI = "/usr/bin/irssi"
const TMUX = "/usr/bin/tmux"
const iiMissing = has(II) ? undefined : `${II} not found (apt-get install ii)`
const irssiMissing = !has(IRSSI) ? `${IRSSI} not found (apt-get install irssi)` : !has(TMUX) ? `${TMUX} not found (apt-get install tmux)` : undefined
if (iiMissing !== undefined) console.warn(`IRC client test skipped: ${iiMissing}`)
if (irssiMissing !== undefined) console.warn(`IRC client test skipped: ${irssiMissing}`)

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "weft-irc-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const read = (file: string) => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

describe("real IRC clients", () => {
  it.live.skipIf(iiMissing !== undefined)(`ii registers, joins, talks with an nc user both ways, and quits${iiMissing ? ` (skipped: ${iiMissing})` : ""}`, () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2"])
      const dir = yield* tempDir
      const nc = yield* connect(server.port)
      yield* nc.write("/nick bob\n")
      yield* nc.waitFor((l) => l === "* you are now bob")
      const ii = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(II, ["-s", "127.0.0.1", "-p", String(server.ircPort), "-n", "iiuser", "-f", "ii user", "-i", dir], { stdio: "ignore" })),
        (proc) => Effect.sync(() => proc.exitCode === null && proc.signalCode === null && proc.kill("SIGKILL"))
      )
      const host = path.join(dir, "127.0.0.1")
      const lobby = path.join(host, "#lobby")
      // Registered (the server's welcome is in ii's out), then it joins #lobby, as IRC users choose their channels.
      yield* poll(Effect.sync(() => read(path.join(host, "out"))), (out) => out.includes("Welcome to the weft chat"), 10_000)
      yield* Effect.promise(() => fs.promises.writeFile(path.join(host, "in"), "/j #lobby\n"))
      yield* poll(Effect.sync(() => read(path.join(lobby, "out"))), (out) => out.includes("iiuser"), 10_000)
      yield* nc.waitFor((l) => l === "* iiuser joined lobby")
      yield* nc.write("hello ii\n")
      yield* poll(Effect.sync(() => read(path.join(lobby, "out"))), (out) => out.includes("<bob> hello ii"), 10_000)
      yield* Effect.promise(() => fs.promises.writeFile(path.join(lobby, "in"), "hello nc\n"))
      yield* nc.waitFor((l) => l === "[lobby] iiuser: hello nc")
      // An explicit join, confirmed by the server.
      yield* Effect.promise(() => fs.promises.writeFile(path.join(host, "in"), "/j #den\n"))
      yield* poll(Effect.sync(() => read(path.join(host, "#den", "out"))), (out) => out.includes("iiuser(iiuser@weft) has joined #den"), 10_000)
      yield* nc.write("/join den\nin the den\n")
      yield* poll(Effect.sync(() => read(path.join(host, "#den", "out"))), (out) => out.includes("<bob> in the den"), 10_000)
      yield* Effect.promise(() => fs.promises.writeFile(path.join(host, "#den", "in"), "me too\n"))
      yield* nc.waitFor((l) => l === "[den] iiuser: me too")
      // A private message each way: ii opens a directory per nick.
      yield* nc.write("/msg iiuser just for you\n")
      yield* poll(Effect.sync(() => read(path.join(host, "bob", "out"))), (out) => out.includes("<bob> just for you"), 10_000)
      yield* Effect.promise(() => fs.promises.writeFile(path.join(host, "bob", "in"), "got it\n"))
      yield* nc.waitFor((l) => l === "[pm] iiuser: got it")
      yield* Effect.promise(() => fs.promises.writeFile(path.join(host, "in"), "/q bye now\n"))
      yield* nc.waitFor((l) => l === "* iiuser quit: bye now")
      yield* poll(Effect.sync(() => ii.exitCode ?? ii.signalCode), (code) => code !== null, 10_000)
    })))

  it.live.skipIf(irssiMissing !== undefined)(`irssi (under tmux) connects, joins, talks with an nc user both ways, moderates (+m, +v, kick, ban), and quits${irssiMissing ? ` (skipped: ${irssiMissing})` : ""}`, () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2"])
      const dir = yield* tempDir
      const socket = path.join(dir, "tmux.sock")
      const tmux = (...args: Array<string>) => execFileSync(TMUX, ["-S", socket, ...args], { encoding: "utf8", timeout: 5_000 })
      const nc = yield* connect(server.port)
      yield* nc.write("/nick bob\n")
      yield* nc.waitFor((l) => l === "* you are now bob")
      // irssi paces its own commands (one per 2.2 s past a burst of 5): not what this test is about.
      fs.mkdirSync(path.join(dir, "home"))
      fs.writeFileSync(path.join(dir, "home", "config"), 'settings = { "irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "100"; }; };\n')
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          tmux(
            "new-session", "-d", "-s", "irc", "-x", "160", "-y", "40",
            `${IRSSI} --home=${path.join(dir, "home")} --connect=127.0.0.1 --port=${server.ircPort} --nick=irssiuser`
          )
        ),
        () => Effect.sync(() => {
          try {
            tmux("kill-server")
          } catch {
            // already gone with irssi
          }
        })
      )
      const screen = () => Effect.sync(() => {
        try {
          return tmux("capture-pane", "-p", "-t", "irc")
        } catch {
          return ""
        }
      })
      const type = (text: string) => Effect.sync(() => void tmux("send-keys", "-t", "irc", "-l", text)).pipe(
        Effect.andThen(Effect.sync(() => void tmux("send-keys", "-t", "irc", "Enter")))
      )
      yield* poll(screen(), (s) => s.includes("Welcome to the weft chat"), 15_000)
      yield* type("/join #lobby")
      yield* nc.waitFor((l) => l === "* irssiuser joined lobby", 1, 15_000)
      // irssi makes #den, so is its operator, and its window comes forward.
      yield* type("/join #den")
      yield* poll(screen(), (s) => s.includes("#den"), 10_000)
      // The server has it in den (asked again until it does: the window may come before the reply).
      yield* poll(
        nc.write("/who den\n").pipe(Effect.andThen(Effect.sleep("100 millis")), Effect.andThen(Effect.sync(() => nc.lines()))),
        (lines) => lines.includes("* in den (1): @irssiuser"),
        10_000
      )
      yield* nc.write("/join den\nhello irssi\n")
      yield* poll(screen(), (s) => /bob.*hello irssi/.test(s), 10_000)
      yield* type("hello nc")
      yield* nc.waitFor((l) => l === "[den] irssiuser: hello nc")
      yield* type("/msg bob a private word")
      yield* nc.waitFor((l) => l === "[pm] irssiuser: a private word")
      // The operator moderates #den: bob may not speak, then may (voiced), then is kicked and banned.
      yield* type("/mode #den +m")
      yield* nc.waitFor((l) => l === "* irssiuser set mode +m on den")
      yield* nc.write("can I talk?\n")
      yield* nc.waitFor((l) => l === "! error: you cannot speak in den: the room is moderated (+m)")
      yield* type("/voice bob")
      yield* nc.waitFor((l) => l === "* irssiuser set mode +v bob on den")
      yield* nc.write("thanks for the voice\n")
      yield* poll(screen(), (s) => /bob.*thanks for the voice/.test(s), 10_000)
      yield* type("/mode #den +b bob!*@*")
      yield* nc.waitFor((l) => l === "* irssiuser set mode +b bob!*@* on den")
      yield* type("/kick bob too loud")
      yield* nc.waitFor((l) => l === "* you were kicked from den by irssiuser (too loud); your current room is lobby")
      yield* poll(screen(), (s) => /bob was kicked from #den by irssiuser/.test(s), 10_000)
      yield* nc.write("/join den\n")
      yield* nc.waitFor((l) => l === "! error: cannot join den: you are banned (+b)")
      yield* type("/quit off I go")
      yield* nc.waitFor((l) => l === "* irssiuser quit: off I go")
    })))
})
