/**
 * The web chat page: the same rooms and nicks as nc and IRC users, over a
 * WebSocket at `/ws` that speaks the plain line protocol (each WebSocket text
 * message is one line, both ways). It shows the rooms and their member
 * counts, who is in the current room, its topic, private messages and the
 * server's errors. Built with Hono's JSX runtime (`jsx` calls rather than JSX
 * syntax, so Node runs the file without a build step) and a little plain
 * script; it fits a phone.
 *
 * The script keeps the side panels fresh by sending `/rooms` and `/who` itself
 * (after joins, parts and renames, and every few seconds) and files their
 * answers into the panels instead of the log.
 *
 * @example
 * app.get("/", (c) => c.html(Page.html()))
 */
import { jsx as h } from "hono/jsx"

const style = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1d2330;height:100vh;display:flex;flex-direction:column}
header{background:#233046;color:#fff;padding:.5rem .9rem;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
header h1{font-size:1.1rem;margin:0}
header .me{font-weight:600;color:#9fe0b0}
header .status{margin-left:auto;font-size:.85rem;color:#c9d2e3}
.layout{flex:1;display:grid;grid-template-columns:13rem 1fr;min-height:0}
aside{background:#fff;border-right:1px solid #dde1e8;padding:.6rem;overflow:auto}
aside h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:#5b6578;margin:.4rem 0}
aside ul{list-style:none;margin:0 0 .8rem;padding:0}
aside li{padding:.2rem .4rem;border-radius:4px;cursor:pointer;display:flex;justify-content:space-between}
aside li:hover{background:#eef1f6}
aside li.current{background:#dfe9ff;font-weight:600}
aside li.op{font-weight:600}
aside button.kick{margin-left:.4rem;font-size:.75rem;padding:0 .3rem;cursor:pointer}
aside li .count{color:#5b6578;font-size:.85rem}
aside form{display:flex;gap:.3rem}
.chat{display:flex;flex-direction:column;min-height:0}
.topic{padding:.45rem .9rem;background:#fffbe6;border-bottom:1px solid #eee2a8;font-size:.9rem;min-height:2rem}
.topic b{margin-right:.4rem}
ol.log{flex:1;overflow:auto;margin:0;padding:.5rem .9rem;list-style:none;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
ol.log li{padding:.1rem 0;white-space:pre-wrap;word-break:break-word}
li.notice{color:#5b6578}
li.pm{color:#7a2e9e;background:#f6edfb;border-radius:3px;padding-left:.3rem}
li.error{color:#b3261e;font-weight:600}
li.mine{color:#1b5e20}
form.say,form.nick{display:flex;gap:.4rem;padding:.5rem .9rem;background:#fff;border-top:1px solid #dde1e8}
input{flex:1;min-width:0;padding:.45rem .55rem;border:1px solid #c5cbd6;border-radius:5px;font:inherit}
button{padding:.45rem .8rem;border:0;border-radius:5px;background:#2f6fed;color:#fff;font:inherit;cursor:pointer}
form.nick button{background:#5b6578}
@media (max-width:640px){
  .layout{grid-template-columns:1fr;grid-template-rows:auto 1fr}
  aside{border-right:0;border-bottom:1px solid #dde1e8;display:flex;gap:.8rem;overflow-x:auto;padding:.4rem .6rem;max-height:9.5rem}
  aside section{min-width:9rem}
  aside ul{margin-bottom:.3rem}
}
`

/**
 * The page's script, exported for the Content-Security-Policy (allowed by its hash).
 *
 * @example
 * Guard.make({ scripts: [Page.script] })
 */
export const script = `
(() => {
  const $ = (id) => document.getElementById(id)
  const log = $("log"), roomsEl = $("rooms"), whoEl = $("who"), topicEl = $("topic")
  let me = "", current = "", rooms = [], who = [], whoFresh = false, ask = { rooms: 0, who: 0 }
  let collecting = 0, quietList = false, ws, timer
  const add = (line) => {
    const li = document.createElement("li")
    li.textContent = line
    li.className = line.startsWith("! error:") ? "error" : line.startsWith("[pm") ? "pm" : line.startsWith("[") ? (line.includes("] " + me + ": ") ? "msg mine" : "msg") : "notice"
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40
    log.append(li)
    while (log.children.length > 500) log.firstChild.remove()
    if (atBottom) log.scrollTop = log.scrollHeight
  }
  const send = (line) => { if (ws && ws.readyState === 1) ws.send(line) }
  const refresh = () => {
    clearTimeout(timer)
    timer = setTimeout(() => { ask.rooms++; send("/rooms"); if (current) { ask.who++; whoFresh = true; send("/who") } }, 150)
  }
  const renderRooms = () => {
    roomsEl.replaceChildren(...rooms.map((r) => {
      const li = document.createElement("li")
      li.dataset.room = r.name
      if (r.name.toLowerCase() === current.toLowerCase()) li.className = "current"
      const name = document.createElement("span"); name.textContent = r.name
      const count = document.createElement("span"); count.className = "count"; count.textContent = r.members
      li.append(name, count)
      li.onclick = () => send("/join " + r.name)
      return li
    }))
  }
  const renderWho = () => {
    $("whoTitle").textContent = current ? "In " + current : "Who"
    // Entries carry their prefix: @ an operator of the room, + a voice.
    const amOp = who.includes("@" + me) || who.includes("@+" + me)
    whoEl.replaceChildren(...who.map((entry) => {
      const prefix = /^[@+]*/.exec(entry)[0], n = entry.slice(prefix.length)
      const li = document.createElement("li")
      const name = document.createElement("span")
      name.textContent = prefix + (n === me ? n + " (you)" : n)
      li.append(name)
      li.dataset.nick = n
      if (prefix.includes("@")) li.className = "op"
      li.title = "private message"
      li.onclick = () => { $("line").value = "/msg " + n + " "; $("line").focus() }
      if (amOp && n !== me) {
        const kick = document.createElement("button")
        kick.type = "button"; kick.className = "kick"; kick.textContent = "kick"; kick.title = "put " + n + " out of " + current
        kick.onclick = (e) => { e.stopPropagation(); send("/kick " + n) }
        li.append(kick)
      }
      return li
    }))
  }
  const setTopic = (text) => {
    topicEl.replaceChildren()
    const b = document.createElement("b"); b.textContent = current ? "#" + current : ""
    const t = document.createElement("span"); t.id = "topicText"; t.textContent = text || (current ? "no topic" : "not in a room: click a room or /join one")
    topicEl.append(b, t)
  }
  const onLine = (line) => {
    let m
    if (collecting > 0 && (m = /^\\*   (\\S+) \\((\\d+)\\)(?:: (.*))?$/.exec(line))) {
      rooms.push({ name: m[1], members: Number(m[2]), topic: m[3] || "" })
      if (--collecting === 0) renderRooms()
      if (!quietList) add(line)
      return
    }
    if ((m = /^\\* rooms \\((\\d+)\\):$/.exec(line))) {
      rooms = []
      collecting = Number(m[1])
      quietList = ask.rooms > 0
      if (quietList) ask.rooms--
      if (collecting === 0) renderRooms()
      if (!quietList) add(line)
      return
    }
    if ((m = /^\\* in (\\S+) \\((\\d+)\\):(.*)$/.exec(line))) {
      const total = Number(m[2]), isCurrent = m[1].toLowerCase() === current.toLowerCase()
      if (isCurrent) {
        if (whoFresh) { who = []; whoFresh = false }
        who.push(...m[3].trim().split(" ").filter(Boolean))
        if (who.length > total) who = who.slice(-total)
        renderWho()
      }
      if (ask.who > 0) { if (!isCurrent || who.length >= total) ask.who--; return }
      return add(line)
    }
    add(line)
    if ((m = /^\\* welcome (\\S+):/.exec(line)) || (m = /^\\* you are now (\\S+)$/.exec(line))) { me = m[1]; $("me").textContent = me; refresh() }
    if ((m = /^\\* you are in (\\S+) \\(/.exec(line))) { current = m[1]; setTopic(""); refresh() }
    if ((m = /^\\* you left \\S+; (?:your current room is (\\S+)|you are in no room now)$/.exec(line))) { current = m[1] || ""; setTopic(""); who = []; renderWho(); refresh() }
    if ((m = /^\\* topic of (\\S+): (.*)$/.exec(line)) || (m = /^\\* \\S+ set the topic of (\\S+): (.*)$/.exec(line))) { if (m[1].toLowerCase() === current.toLowerCase()) setTopic(m[2]) }
    if ((m = /^\\* (\\S+) has no topic$/.exec(line)) && m[1].toLowerCase() === current.toLowerCase()) setTopic("")
    if ((m = /^\\* you were kicked from \\S+ by \\S+ \\(.*\\); (?:your current room is (\\S+)|you are in no room now)$/.exec(line))) { current = m[1] || ""; setTopic(""); who = []; renderWho(); refresh() }
    if (/^\\* \\S+ (joined|left|quit|is now|kicked|set mode) /.test(line) || /^\\* \\S+ (left|quit)/.test(line)) refresh()
  }
  const connect = () => {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws")
    $("status").textContent = "connecting"
    ws.onopen = () => { $("status").textContent = "connected" }
    ws.onmessage = (event) => String(event.data).split("\\n").filter((l) => l !== "").forEach(onLine)
    ws.onclose = () => { $("status").textContent = "disconnected: reload to reconnect"; $("me").textContent = "" }
  }
  $("say").onsubmit = (e) => {
    e.preventDefault()
    const line = $("line").value
    if (!line.trim()) return
    if (/^\\/who\\b/i.test(line)) whoFresh = true
    send(line)
    $("line").value = ""
  }
  $("nickForm").onsubmit = (e) => { e.preventDefault(); const n = $("nick").value.trim(); if (n) send("/nick " + n); $("nick").value = "" }
  $("joinForm").onsubmit = (e) => { e.preventDefault(); const r = $("joinName").value.trim(); if (r) send("/join " + r); $("joinName").value = "" }
  setInterval(() => { if (me) refresh() }, 5000)
  setTopic("")
  connect()
})()
`

/** The page as an HTML string (with its doctype). */
export const html = (): string =>
  "<!doctype html>" +
  h("html", { lang: "en" }, [
    h("head", {}, [
      h("meta", { charset: "utf-8" }),
      h("meta", { name: "viewport", content: "width=device-width, initial-scale=1" }),
      h("title", {}, "weft chat"),
      h("style", { dangerouslySetInnerHTML: { __html: style } })
    ]),
    h("body", {}, [
      h("header", {}, [
        h("h1", {}, "weft chat"),
        h("span", {}, ["you are ", h("span", { id: "me", class: "me" }, "…")]),
        h("span", { id: "status", class: "status" }, "loading")
      ]),
      h("main", { class: "layout" }, [
        h("aside", {}, [
          h("section", {}, [
            h("h2", {}, "Rooms"),
            h("ul", { id: "rooms" }),
            h("form", { id: "joinForm" }, [
              h("input", { id: "joinName", placeholder: "room", "aria-label": "room to join", autocomplete: "off" }),
              h("button", { type: "submit" }, "join")
            ])
          ]),
          h("section", {}, [h("h2", { id: "whoTitle" }, "Who"), h("ul", { id: "who" })])
        ]),
        h("section", { class: "chat" }, [
          h("div", { id: "topic", class: "topic" }),
          h("ol", { id: "log", class: "log", "aria-live": "polite" }),
          h("form", { id: "say", class: "say" }, [
            h("input", { id: "line", placeholder: "message, or /help", "aria-label": "message", autocomplete: "off" }),
            h("button", { type: "submit" }, "send")
          ]),
          h("form", { id: "nickForm", class: "nick" }, [
            h("input", { id: "nick", placeholder: "new nick", "aria-label": "nick", autocomplete: "off" }),
            h("button", { type: "submit" }, "set nick")
          ])
        ])
      ]),
      h("script", { dangerouslySetInnerHTML: { __html: script } })
    ])
  ]).toString()
