import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Each file gets its own process: the engine is one runtime per process, as in production.
    pool: 'forks',
    env: { NODE_ENV: 'test' },
  },
})
