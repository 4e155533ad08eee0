/**
 * A small disk to fill up: a tmpfs of a few KiB. Mounting needs root (CI and this
 * project's machines run as root); elsewhere the reason comes back instead, for
 * the test to skip with.
 *
 * @example
 * ```ts
 * import { smallDisk } from "@weft/testkit"
 * const disk = smallDisk({ size: "16k" })
 * if (typeof disk === "string") return context.skip(disk)
 * try {
 *   // write under disk.dir until ENOSPC
 * } finally {
 *   disk.unmount()
 * }
 * ```
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** A mounted small disk: its directory, and how to unmount and remove it. */
export interface SmallDisk {
  readonly dir: string
  readonly unmount: () => void
}

/**
 * Mounts a tmpfs of `size` (mount's notation, default "64k") on a fresh
 * directory named with `prefix`; or says why it cannot.
 *
 * @example
 * ```ts
 * const disk = smallDisk({ prefix: "weft-tickets-full-" })
 * ```
 */
export const smallDisk = (options: { readonly prefix?: string; readonly size?: string } = {}): SmallDisk | string => {
  const { prefix = "weft-full-disk-", size = "64k" } = options
  if (process.platform !== "linux") return "a full disk is simulated with a Linux tmpfs"
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { encoding: "utf8" })
  if (mounted.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true })
    return `cannot mount a small tmpfs here (needs root): ${(mounted.stderr || mounted.error?.message || "").trim()}`
  }
  return {
    dir,
    unmount: () => {
      spawnSync("umount", ["-l", dir])
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
