// The raw fork + IPC baseline: one message per task.
process.on("message", (m) => process.send([m[0], m[1] + 1]))
process.on("disconnect", () => process.exit(0))
