import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The PostgreSQL store's tests: a throwaway server for the suite (or WEFT_PG_URL).
    globalSetup: ["@weft/testkit/postgres"],
    testTimeout: 20_000,
    hookTimeout: 20_000
  }
})
