/**
 * What the primary and its workers say to each other: one JSON object per
 * line over a loopback TCP "relay" connection from each worker to the
 * primary (not cluster's IPC channel: on Deno 2.9, application messages on
 * that channel stall cluster's own hand-off of new connections to workers).
 */

/** Worker to primary. The first line must be `hello` with the primary's token. */
export type FromWorker =
  | { readonly t: "hello"; readonly token: string; readonly id: number }
  | { readonly t: "listening"; readonly port: number }
  | { readonly t: "listen-error"; readonly message: string }
  /** A line for everyone in `room`, on every worker; `chat` counts as a relayed message. */
  | { readonly t: "broadcast"; readonly room: string; readonly line: string; readonly chat: boolean }
  | { readonly t: "connections"; readonly count: number }

/** Primary to worker: one line to write to each local client in `room`. */
export interface Deliver {
  readonly t: "deliver"
  readonly room: string
  readonly line: string
}

/** Calls `onMessage` with each JSON line read from `socket`; a bad line ends the connection. */
export const readJsonLines = <A>(socket: import("node:net").Socket, onMessage: (message: A) => void): void => {
  let buffer = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    buffer += chunk
    let nl: number
    while ((nl = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      let message: A
      try {
        message = JSON.parse(line) as A
      } catch {
        socket.destroy()
        return
      }
      onMessage(message)
    }
  })
}
