/**
 * Every kind of primitive a manager hosts, one line each. A kind's file
 * under `kinds/` holds all of it (see `kind.ts`): adding a kind is a new
 * file and a line here, and `Manager` gains its factory method from the
 * file's `Factory`.
 *
 * @internal
 */
import * as Barrier from "./kinds/barrier.ts"
import * as Condition from "./kinds/condition.ts"
import * as Event from "./kinds/event.ts"
import * as Lock from "./kinds/lock.ts"
import * as PubSub from "./kinds/pubsub.ts"
import * as Queue from "./kinds/queue.ts"
import * as RLock from "./kinds/rlock.ts"
import * as Semaphore from "./kinds/semaphore.ts"
import type { KindDef } from "./kind.ts"

/** @internal */
export const kinds = {
  lock: Lock.kind,
  rlock: RLock.kind,
  semaphore: Semaphore.kind,
  event: Event.kind,
  condition: Condition.kind,
  barrier: Barrier.kind,
  queue: Queue.kind,
  pubsub: PubSub.kind
} as const

/** The kinds of primitive a manager hosts. */
export type Kind = keyof typeof kinds

/** The interface of each kind. */
export type Interfaces = { readonly [K in Kind]: ReturnType<(typeof kinds)[K]["view"]> }

type FactoryOf<D> = D extends KindDef<any, any, any, any, any, infer F> ? F : never
type Intersect<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never

/** Every kind's factory method, as one object type: what `Manager` extends. @internal */
export type Factories = Intersect<FactoryOf<(typeof kinds)[Kind]>>

/** Looks a kind up by name; `undefined` for a name that is not a kind. @internal */
export const kindOf = (name: unknown): KindDef<Kind, any, any, any, any, any> | undefined =>
  typeof name === "string" && Object.hasOwn(kinds, name) ? kinds[name as Kind] : undefined
