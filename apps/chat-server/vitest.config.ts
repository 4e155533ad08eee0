import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real servers, real IRC clients and a real browser on a shared 2-core machine: generous, still bounded.
    testTimeout: 60_000,
    hookTimeout: 30_000
  }
})
