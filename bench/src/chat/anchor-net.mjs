/**
 * Anchor (a): a single-process `node:net` broadcast chat doing the bare
 * minimum. Every connection is a guest in one room; each line it sends is
 * written once as `[lobby] guestN: text` to every connection (its own too).
 * No commands, no notices, no limits, no flood control: the floor a real
 * server is measured against.
 * Plain JavaScript on purpose: loading a .ts file costs Node 24 ~18 MB of
 * RSS per process (its type stripper), which is not part of the floor.
 *
 *   node bench/src/chat/anchor-net.mjs   (prints `chat: tcp 127.0.0.1:PORT`)
 */
import * as net from "node:net"

const clients = new Set()
let counter = 0

const server = net.createServer((socket) => {
  const prefix = `[lobby] guest${++counter}: `
  clients.add(socket)
  socket.setNoDelay(true)
  let buffer = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk) => {
    buffer += chunk
    let nl
    while ((nl = buffer.indexOf("\n")) !== -1) {
      const line = prefix + buffer.slice(0, nl) + "\n"
      buffer = buffer.slice(nl + 1)
      for (const client of clients) client.write(line)
    }
  })
  socket.on("error", () => {}) // 'close' follows
  socket.on("close", () => clients.delete(socket))
})

server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`chat: tcp 127.0.0.1:${server.address().port}, 1 process`)
})
process.on("SIGTERM", () => process.exit(0))
