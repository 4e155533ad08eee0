/**
 * One contender of the process bench: `rmw.ts <weft-manager|weft-filelock|proper-lockfile> <target> <json file> <n>`.
 * Prints "ready", waits for "go" on stdin, does n read-modify-writes of
 * `{ count }` under the lock, and prints "done <longest wait for the lock, ms>".
 */
import { Effect } from "effect"
import { FileLock, Manager } from "@weft/primitives"
import lockfile from "proper-lockfile"
import { finish, ready, rmw, timeWait, weftRmw } from "../contender.ts"

const [kind, target, file, n] = process.argv.slice(2)
const ops = Number(n)

const proper = async () => {
  // The same backoff as FileLock's default: 1 ms, x1.5, capped at 25 ms, jittered.
  const options = {
    realpath: false,
    stale: 10_000,
    retries: { retries: 2_000, factor: 1.5, minTimeout: 1, maxTimeout: 25, randomize: true }
  }
  await ready()
  for (let i = 0; i < ops; i++) {
    const held = timeWait()
    const release = await lockfile.lock(target!, options)
    held()
    rmw(file!)
    await release()
  }
}

finish(
  kind === "weft-manager"
    ? Effect.runPromise(Manager.attach(JSON.parse(target!) as Manager.Handle<"lock">)).then((lock) => weftRmw(lock, file!, ops))
    : kind === "weft-filelock"
    ? Effect.runPromise(FileLock.make(target!)).then((lock) => weftRmw(lock, file!, ops))
    : proper()
)
