import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["@weft/testkit/postgres"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
