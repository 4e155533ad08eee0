import { describe, expect, it } from "vitest"
import { Lockdep } from "../src/index.ts"

describe("Lockdep.Graph", () => {
  it("records an order and refuses the inverse, naming both orders and places", () => {
    const graph = new Lockdep.Graph()
    expect(graph.record([{ name: "a", where: "x.ts:1" }], "b", "x.ts:2", "fiber #1")).toBeUndefined()
    const error = graph.record([{ name: "b", where: "y.ts:1" }], "a", "y.ts:2", "fiber #2")
    expect(error?._tag).toBe("LockOrderError")
    expect(error?.cycle).toEqual([{ from: "a", to: "b", where: "x.ts:2", who: "fiber #1" }])
    expect(error?.message).toBe(
      "lock order: taking a while holding b (y.ts:2, fiber #2) inverts a -> b (first seen at x.ts:2, fiber #1)"
    )
    // Refused edges are not added: b -> a is still unknown.
    expect(graph.edges().map((e) => `${e.from}->${e.to}`)).toEqual(["a->b"])
  })

  it("finds a longer cycle through the graph and asks for the place only for new edges", () => {
    const graph = new Lockdep.Graph()
    let asked = 0
    const where = () => `place ${++asked}`
    graph.record([{ name: "a", where: "" }], "b", where, "f1")
    graph.record([{ name: "b", where: "" }], "c", where, "f1")
    graph.record([{ name: "a", where: "" }], "b", where, "f2") // known: no place asked
    expect(asked).toBe(2)
    const error = graph.record([{ name: "c", where: "" }], "a", where, "f3")
    expect(error?.cycle.map((e) => `${e.from}->${e.to}`)).toEqual(["a->b", "b->c"])
    expect(error?.held).toBe("c")
  })

  it("ignores nesting within one class", () => {
    const graph = new Lockdep.Graph()
    expect(graph.record([{ name: "a", where: "" }], "a", "here", "f")).toBeUndefined()
    expect(graph.edges()).toEqual([])
  })
})
