// The native addon, loaded once per process through the generated loader (a local build first,
// then the per-platform package). Without one, requiring xypriss fails with what to do about it.
import type * as Native from '../binding/index'
import { errors } from './errors'

function load(): typeof Native {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../binding/index.js')
  } catch (cause) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadFailure, missingAddonMessage } = require('../binding/target.js')
    throw errors.nativeMissing(missingAddonMessage(), loadFailure(cause))
  }
}

export const native: typeof Native = load()
export type NativeServer = Native.NativeServer
