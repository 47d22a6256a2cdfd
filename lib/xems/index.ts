// `xypriss.xems`: the encrypted store and its session middleware.
import { session } from './session'
import { XemsStore, type XemsOpenOptions } from './store'

export const xems = {
  open: (options: XemsOpenOptions) => XemsStore.open(options),
  session,
  XemsStore,
}
export type { XemsOpenOptions }
