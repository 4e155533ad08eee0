/**
 * Binds methods to their instance, so that they keep working when passed as
 * values or destructured: `effect.pipe(lock.withLock)`,
 * `const { acquire, release } = sem`. Effect users do this all the time; a
 * prototype method would lose `this`.
 *
 * @internal
 */

/** @internal */
export const bindMethods = <T extends object>(self: T, ...names: ReadonlyArray<keyof T & string>): void => {
  for (const name of names) {
    const method = self[name] as unknown
    if (typeof method === "function") {
      Object.defineProperty(self, name, { value: method.bind(self), writable: true, configurable: true })
    }
  }
}
