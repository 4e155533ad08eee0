export * from "./errors.ts"
export * as Lock from "./Lock.ts"
