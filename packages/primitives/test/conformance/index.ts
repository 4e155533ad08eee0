/**
 * The conformance suites, one per interface, for any package whose
 * primitives implement Weft's interfaces (`@weft/cluster` runs them against
 * its own): a test-only entry, `@weft/primitives/conformance`, read from
 * source by vitest and never built into `dist/`.
 *
 * ```ts
 * import { lockConformance } from "@weft/primitives/conformance"
 *
 * lockConformance("cluster.lock(name)", () => cluster.lock("orders"))
 * ```
 */
export { eventConformance } from "./Event.ts"
export { lockConformance } from "./Lock.ts"
export { queueConformance } from "./Queue.ts"
export { rlockConformance } from "./RLock.ts"
export { semaphoreConformance } from "./Semaphore.ts"
