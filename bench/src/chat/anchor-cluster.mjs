/**
 * Anchor (b): a 2-worker `node:cluster` chat that relays through the primary
 * over cluster's IPC channel, bare minimum. The workers share one port (the
 * primary deals connections round robin); a worker sends each line as
 * `[lobby] guestN: text` to the primary with `process.send`, the primary sends
 * it to every worker, and each worker writes it to all of its connections.
 * No commands, no notices, no limits.
 * Plain JavaScript on purpose: loading a .ts file costs Node 24 ~18 MB of
 * RSS per process (its type stripper), which is not part of the floor.
 *
 *   node bench/src/chat/anchor-cluster.mjs [workers=2]   (prints `chat: tcp 127.0.0.1:PORT`)
 */
import cluster from "node:cluster"
import * as net from "node:net"

if (cluster.isPrimary) {
  const workers = Number(process.argv[2] ?? 2)
  // Round robin keys the shared socket by the port asked for: resolve port 0 once, here.
  const probe = net.createServer().listen(0, "127.0.0.1", () => {
    const port = probe.address().port
    probe.close(() => {
      cluster.schedulingPolicy = cluster.SCHED_RR
      let listening = 0
      for (let i = 0; i < workers; i++) {
        const worker = cluster.fork({ ANCHOR_PORT: String(port), ANCHOR_ID: String(i + 1) })
        worker.on("message", (line) => {
          if (line === "listening") {
            if (++listening === workers) console.log(`chat: tcp 127.0.0.1:${port}, ${workers} workers`)
            return
          }
          for (const id in cluster.workers) cluster.workers[id].send(line)
        })
      }
    })
  })
  process.on("SIGTERM", () => {
    for (const id in cluster.workers) cluster.workers[id].process.kill("SIGTERM")
    process.exit(0)
  })
} else {
  const clients = new Set()
  const id = process.env.ANCHOR_ID
  let counter = 0
  process.on("message", (line) => {
    for (const client of clients) client.write(line)
  })
  const server = net.createServer((socket) => {
    const prefix = `[lobby] guest${id}-${++counter}: `
    clients.add(socket)
    socket.setNoDelay(true)
    let buffer = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk) => {
      buffer += chunk
      let nl
      while ((nl = buffer.indexOf("\n")) !== -1) {
        process.send(prefix + buffer.slice(0, nl) + "\n")
        buffer = buffer.slice(nl + 1)
      }
    })
    socket.on("error", () => {})
    socket.on("close", () => clients.delete(socket))
  })
  server.listen(Number(process.env.ANCHOR_PORT), "127.0.0.1", () => process.send("listening"))
  process.on("SIGTERM", () => process.exit(0))
  process.on("disconnect", () => process.exit(0)) // no orphans
}
