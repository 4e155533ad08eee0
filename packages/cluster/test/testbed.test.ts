/**
 * The network-namespace test-bed itself (scripts/testbed.sh): what the
 * workplace's network rule needs from it. No traffic is sent here: `ip route
 * get` only asks the kernel.
 */
import { spawnSync } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { testbed, unavailable } from "@weft/testkit/testbed"

const reason = unavailable()
if (reason !== undefined) console.warn(`\n*** @weft/cluster test-bed tests SKIPPED: ${reason} ***\n`)
const skipped = reason === undefined ? "" : ` (skipped: ${reason})`

const ip = (...args: Array<string>) => spawnSync("ip", args, { encoding: "utf8" }).stdout

describe(`scripts/testbed.sh${skipped}`, () => {
  it.live.skipIf(reason !== undefined)("machines with a front and a back link and no default route; routes checked; cut/heal; names taken are refused; all gone afterwards", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const bed = yield* Scope.provide(scope)(testbed(2))
      const [m1, m2] = bed.machines as [typeof bed.machines[0], typeof bed.machines[0]]
      assert.match(m1.ns, new RegExp(`^weft-${process.pid}-[0-9a-z]+-m1$`))
      assert.match(bed.gateway, /^10\.203\.\d+\.1$/)
      const routes = ip("-n", m1.ns, "route", "show")
      assert.notInclude(routes, "default", "no default route in a machine")
      assert.include(routes, " dev back ")
      assert.include(routes, " dev front ")

      // Routes through the test-bed's own links pass; anything else is refused.
      yield* bed.route(bed.gateway, 1)
      yield* bed.route(m1.front)
      yield* bed.route(m2.back, 1)
      const outside = `10.203.${Number(bed.gateway.split(".")[2]) + 100}.7`
      assert.isTrue(Exit.isFailure(yield* Effect.exit(bed.route(outside))), "an address outside the test-bed")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(bed.route(outside, 1))), "from a machine: no route out")

      // A cut takes the back link down; heal brings it up.
      yield* bed.cut(1)
      assert.match(ip("-n", m1.ns, "link", "show", "back"), /NO-CARRIER|LOWERLAYERDOWN|state DOWN/)
      yield* bed.heal(1)

      // The same names again: refused.
      const again = spawnSync("bash", [new URL("../../../scripts/testbed.sh", import.meta.url).pathname, "up", bed.tag, "1"], { encoding: "utf8" })
      assert.notStrictEqual(again.status, 0)
      assert.include(again.stderr, "exist already")

      yield* Scope.close(scope, Exit.void)
      assert.notInclude(ip("netns", "list"), `weft-${bed.tag}-`)
      assert.notInclude(ip("-o", "link", "show"), `w${bed.tag}`)
    }), 60_000)
})
