/**
 * weft chat-server: a chat for nc, IRC clients and the web, on node:cluster.
 *
 *   node src/main.ts [--host 127.0.0.1] [--port 0] [--irc-port 6667] [--http-port 0] [--workers N] [--max-line BYTES]
 *
 * The primary forks the workers and holds the registry and the HTTP side; each
 * worker runs this same file and takes the worker branch, which loads only the
 * worker's modules (no Effect, no Hono: a worker's memory stays small).
 */
import cluster from "node:cluster"

if (cluster.isWorker) {
  const { runWorker } = await import("./worker.ts")
  runWorker(JSON.parse(process.env.WEFT_CHAT ?? "{}"))
} else {
  // On Node: continue as a lean copy of this program (see lean.ts); elsewhere this returns at once.
  const { reexec } = await import("./lean.ts")
  reexec()
  const { main } = await import("./cli.ts")
  main(process.argv.slice(2))
}
