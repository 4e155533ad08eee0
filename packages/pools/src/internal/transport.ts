/**
 * The small interface between the pool core and a worker: spawn one, send it
 * a message, kill it, hear its messages and its exit. Two implementations:
 * `node:worker_threads` and `node:child_process.fork` with an IPC channel.
 *
 * @internal
 */
import { fork } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { problem as jsonProblem } from "@weft/primitives/json"
import type { PoolKind } from "../errors.ts"
import type { Options as ProcessOptions } from "../ProcessPool.ts"
import type { Options as ThreadOptions } from "../ThreadPool.ts"
import * as P from "./protocol.ts"

export interface ExitInfo {
  readonly code: number | null
  readonly signal: string | null
  /** An uncaught error reported by the runtime, when there was one. */
  readonly error: string | undefined
  /** A process worker: the id of the last task it started (0: none), from its progress file. */
  readonly lastStarted?: number | undefined
}

export interface TransportHandlers {
  readonly message: (message: Array<any>) => void
  readonly exit: (info: ExitInfo) => void
}

export interface Transport {
  /** Sends a message; throws synchronously when it cannot be serialized. */
  readonly send: (message: Array<unknown>, transferList: Array<any> | undefined) => void
  /** Stops the worker now. The exit handler still runs once it is gone. */
  readonly kill: () => void
  /**
   * Told when the worker runs dry (`true`) or gets tasks again (`false`);
   * the piscina drop-in unrefs idle threads there, so that an idle pool does
   * not keep the process alive (a Weft pool lives in its `Scope` instead).
   */
  readonly idle?: ((idle: boolean) => void) | undefined
  /** The worker object itself, for callers that list them (piscina's `threads`). */
  readonly handle?: unknown
}

export interface TransportKind {
  readonly pool: PoolKind
  /** Whether workers share claim words with the pool (see `protocol.ts`), so tasks can be stolen. */
  readonly claims: boolean
  /** Why a task argument cannot cross, or `undefined` (checked before sending). */
  readonly problem: ((value: unknown, path: string) => string | undefined) | undefined
  readonly spawn: (moduleUrl: string, handlers: TransportHandlers, claims: SharedArrayBuffer | undefined) => Transport
}

const entryUrl = new URL(`./entry${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

export const threads = (options: ThreadOptions, behaviour: { readonly unrefIdle?: boolean } = {}): TransportKind => ({
  pool: "ThreadPool",
  claims: true,
  problem: undefined,
  spawn(moduleUrl, handlers, claims) {
    const worker = new Worker(entryUrl, {
      workerData: options.workerData,
      ...(options.argv !== undefined ? { argv: [...options.argv] } : {}),
      ...(options.resourceLimits !== undefined ? { resourceLimits: { ...options.resourceLimits } } : {}),
      ...(options.env !== undefined ? { env: { ...options.env } } : {}),
      ...(options.execArgv !== undefined ? { execArgv: [...options.execArgv] } : {})
    })
    let error: string | undefined
    let exited = false
    // The module and claim words go in the first message, so workerData is the user's.
    worker.postMessage([P.INIT, moduleUrl, claims])
    worker.on("message", handlers.message)
    worker.on("error", (e) => {
      error ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    })
    worker.on("exit", (code) => {
      if (exited) return
      exited = true
      handlers.exit({ code, signal: null, error })
    })
    return {
      send: (message, transferList) => worker.postMessage(message, transferList as any),
      kill: () => {
        void worker.terminate().catch(() => {})
      },
      idle: behaviour.unrefIdle === true ? (idle) => (idle ? worker.unref() : worker.ref()) : undefined,
      handle: worker
    }
  }
})

export const processes = (options: ProcessOptions): TransportKind => ({
  pool: "ProcessPool",
  claims: false,
  problem: jsonProblem,
  spawn(moduleUrl, handlers) {
    // The child writes the id of each task it starts here, so after a crash the
    // pool knows which tasks ran even if their results had not been sent yet.
    const progressFile = join(tmpdir(), `weft-pool-${process.pid}-${randomUUID()}`)
    writeFileSync(progressFile, new Uint8Array(8))
    const child = fork(fileURLToPath(entryUrl), [moduleUrl, progressFile], {
      env: options.env !== undefined ? { ...options.env } : process.env,
      execArgv: options.execArgv !== undefined ? [...options.execArgv] : [],
      serialization: "json",
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let exited = false
    let error: string | undefined
    child.on("message", handlers.message as (message: unknown) => void)
    child.on("error", (e) => {
      error ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    })
    child.on("exit", (code, signal) => {
      if (exited) return
      exited = true
      let lastStarted: number | undefined
      try {
        lastStarted = new Float64Array(new Uint8Array(readFileSync(progressFile)).buffer)[0]
      } catch {
        lastStarted = undefined
      }
      rmSync(progressFile, { force: true })
      handlers.exit({ code, signal, error, lastStarted })
    })
    return {
      send: (message) => {
        if (child.connected) child.send(message)
      },
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }
    }
  }
})
