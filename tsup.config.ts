import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: { index: 'lib/index.ts' },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    dts: true,
    // The loader (generated) and target.js find the .node file and package.json relative to themselves: keep them out of the bundle.
    external: [/binding\//],
  },
  {
    // ESM is a thin re-export of the CJS build, so both share one engine and one state.
    entry: { index: 'lib/esm.ts' },
    format: ['esm'],
    outExtension: () => ({ js: '.mjs' }),
    target: 'node20',
    platform: 'node',
    external: ['./index.cjs'],
  },
])
