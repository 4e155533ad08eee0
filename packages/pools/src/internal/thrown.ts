/**
 * What the Promise face (`pool.run`, and the piscina drop-in) rejects with
 * when a task throws: the error the task threw, rebuilt in the caller's
 * thread — the same class for the built-in ones (`TypeError`, ...), the same
 * `name`, `message` and the worker's `stack` — with Weft's `TaskError` as its
 * `cause`. `err.message === "foo"` holds as it would without a pool; a thrown
 * value that is not an `Error` comes back as itself. Every other failure
 * (`WorkerCrashedError`, `PoolClosedError`, ...) is Weft's tagged error.
 *
 * @internal
 */
import { TaskError } from "../errors.ts"

const builtins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError
}

/** @internal */
export const asThrown = (error: unknown): unknown => {
  if (!(error instanceof TaskError)) return error
  if (error.remoteValue !== undefined) return error.remoteValue
  const Ctor = builtins[error.remoteName] ?? Error
  const rebuilt = new Ctor(error.remoteMessage, { cause: error })
  if (rebuilt.name !== error.remoteName) {
    Object.defineProperty(rebuilt, "name", { value: error.remoteName, writable: true, configurable: true, enumerable: false })
  }
  if (error.remoteStack !== undefined) rebuilt.stack = error.remoteStack
  return rebuilt
}
