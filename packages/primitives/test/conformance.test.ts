// The shared conformance suites (test/conformance/*.ts) against every scope
// of this package: one interface, the same behaviours, at fiber, thread and
// process scope. Scope-specific behaviour (handles across threads and
// processes, a process that dies holding a lock, stale lock files) is tested
// in each module's own test file.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { Event, FileLock, Lock, Manager, Queue, RLock, Semaphore, SharedEvent, SharedLock, SharedQueue, SharedSemaphore } from "../src/index.ts"
import { pendingHolds } from "../src/shared/internal/futex.ts"
import { eventConformance } from "./conformance/Event.ts"
import { lockConformance } from "./conformance/Lock.ts"
import { queueConformance } from "./conformance/Queue.ts"
import { rlockConformance } from "./conformance/RLock.ts"
import { semaphoreConformance } from "./conformance/Semaphore.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "weft-conformance-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

// A manager in this process, and a client attached to it through its socket
// (what another process gets).
// Thread scope: an interrupted or timed-out waiter leaves no futex hold behind.
const threads = { settled: Effect.sync(() => pendingHolds() === 0) }

const manager = Manager.serve()
const attached = <P extends { readonly handle: Manager.Handle }>(made: Effect.Effect<P, unknown, any>) =>
  Effect.flatMap(made, (primitive) => Manager.attach(primitive.handle))

lockConformance("Lock", () => Lock.make)
lockConformance("SharedLock", () => SharedLock.make, threads)
lockConformance("manager.lock()", () => Effect.flatMap(manager, (m) => m.lock()))
lockConformance("manager lock, attached by handle", () => attached(Effect.flatMap(manager, (m) => m.lock())) as any)
lockConformance("FileLock", () => Effect.flatMap(tempDir, (dir) => FileLock.make(path.join(dir, "conformance.lock"))))

rlockConformance("RLock", () => RLock.make)
rlockConformance("manager.rlock()", () => Effect.flatMap(manager, (m) => m.rlock()))
rlockConformance("manager rlock, attached by handle", () => attached(Effect.flatMap(manager, (m) => m.rlock())) as any)

semaphoreConformance("Semaphore", (permits) => Semaphore.make(permits))
semaphoreConformance("SharedSemaphore", (permits) => SharedSemaphore.make(permits), threads)
semaphoreConformance("manager.semaphore(n)", (permits) => Effect.flatMap(manager, (m) => m.semaphore(permits)))
semaphoreConformance("manager semaphore, attached by handle", (permits) => attached(Effect.flatMap(manager, (m) => m.semaphore(permits))) as any)

eventConformance("Event", () => Event.make)
eventConformance("SharedEvent", () => SharedEvent.make, threads)
eventConformance("manager.event()", () => Effect.flatMap(manager, (m) => m.event()))
eventConformance("manager event, attached by handle", () => attached(Effect.flatMap(manager, (m) => m.event())) as any)

queueConformance("Queue.fifo", (maxsize) => Queue.fifo(maxsize))
queueConformance("SharedQueue", (maxsize) => SharedQueue.make(maxsize), threads)
queueConformance("manager.queue()", (maxsize) => Effect.flatMap(manager, (m) => m.queue(maxsize)))
queueConformance("manager queue, attached by handle", (maxsize) => attached(Effect.flatMap(manager, (m) => m.queue(maxsize))) as any)
