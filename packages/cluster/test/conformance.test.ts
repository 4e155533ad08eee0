// The shared conformance suites of @weft/primitives (one interface, the same
// behaviours at every scope) against the cluster scope: each primitive under
// a fresh name, on one connection per test. Cluster-specific behaviour
// (several processes, SIGKILL, the server going away) is in the other files.
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  eventConformance,
  lockConformance,
  queueConformance,
  rlockConformance,
  semaphoreConformance
} from "@weft/primitives/conformance"
import { connect, skip, title, unique } from "./helpers.ts"

if (skip) {
  describe.skip(title("cluster conformance"), () => {
    it("lock, rlock, semaphore, event and queue conformance", () => {})
  })
} else {
  lockConformance("cluster.lock(name)", () => Effect.flatMap(connect(), (c) => c.lock(unique("conformance-lock"))))
  rlockConformance("cluster.rlock(name)", () => Effect.flatMap(connect(), (c) => c.rlock(unique("conformance-rlock"))))
  semaphoreConformance("cluster.semaphore(name, n)", (permits) =>
    Effect.flatMap(connect(), (c) => c.semaphore(unique("conformance-sem"), permits)))
  eventConformance("cluster.event(name)", () => Effect.flatMap(connect(), (c) => c.event(unique("conformance-event"))))
  queueConformance("cluster.queue(name, maxsize)", (maxsize) =>
    Effect.flatMap(connect(), (c) => c.queue(unique("conformance-queue"), maxsize)))
}
