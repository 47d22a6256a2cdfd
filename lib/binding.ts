// The native addon, loaded once per process through the generated loader (local build first,
// then the per-platform package).
import type * as Native from '../binding/index'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Native = require('../binding/index.js')
export type NativeServer = Native.NativeServer
