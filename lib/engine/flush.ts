// Buffered responses are held natively and handed to their connections once per tick, so a
// batch of requests answered together costs the I/O thread one wake-up, not one per response.
import { native } from '../binding'

let scheduled = false

function flush() {
  scheduled = false
  native.flushResponses()
}

const immediate = process.env.XYPRISS_FLUSH === 'immediate'

export function scheduleFlush(): void {
  if (immediate) {
    native.flushResponses()
    return
  }
  if (!scheduled) {
    scheduled = true
    queueMicrotask(flush)
  }
}
