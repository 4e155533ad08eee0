// Effect's RPC worker pool (RpcClient.layerProtocolWorker): the group, and the worker when run as one.
import { Effect, Layer, Schema } from "effect"
import { Rpc, RpcGroup, RpcServer } from "effect/rpc"
import { isMainThread } from "node:worker_threads"

export class IncRpcs extends RpcGroup.make(
  Rpc.make("Inc", { payload: { x: Schema.Number }, success: Schema.Number })
) {}

if (!isMainThread) {
  const { NodeRuntime, NodeWorkerRunner } = await import("@effect/platform-node")
  const Handlers = IncRpcs.toLayer({ Inc: ({ x }) => Effect.succeed(x + 1) })
  const Main = RpcServer.layer(IncRpcs).pipe(
    Layer.provide(Handlers),
    Layer.provide(RpcServer.layerProtocolWorkerRunner),
    Layer.provide(NodeWorkerRunner.layer)
  )
  NodeRuntime.runMain(Layer.launch(Main))
}
