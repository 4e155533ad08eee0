/**
 * Whether an environment switch (`WEFT_LOCKDEP`, `WEFT_INSPECT`) is on: set,
 * and not "", "0" or "false". Off where the environment cannot be read
 * (Deno without --allow-env, a browser).
 *
 * @internal
 */
export const envFlag = (name: string): boolean => {
  try {
    const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]
    return value !== undefined && value !== "" && value !== "0" && value !== "false"
  } catch {
    return false
  }
}
