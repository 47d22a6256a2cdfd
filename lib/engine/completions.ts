// Buffered responses on their way to the engine. end() writes each one (status, flags, the head
// block and the body bytes) into one shared arena; the whole batch crosses to the engine in one
// native call, every few responses or once per tick, and the I/O thread builds the heads, computes
// entity tags and wakes the connections. The JS thread pays a memory copy per response, not a
// native call.
import { native } from '../binding'

/** One response in `records`: request id, status, flags, head bytes, body bytes. */
const RECORD = 5
/** Responses the arena holds before it is handed over (a full batch flushes sooner). */
const MAX_HELD = 64
/** Bytes of head and body the arena holds; a larger response goes in its own native call. */
const ARENA_BYTES = 64 * 1024

// Flushing every few responses lets the I/O thread write while JS finishes the batch instead of
// the two threads taking turns (measured on 2 cores: ~52k -> ~57k req/s on GET /json).
const flushEvery = Math.min(Number(process.env.XYPRISS_FLUSH_EVERY) || 8, MAX_HELD)

const records = new Float64Array(MAX_HELD * RECORD)
const arena = Buffer.allocUnsafeSlow(ARENA_BYTES)
/** Responses written to the arena, and the arena bytes they take. */
let held = 0
let used = 0
/** Responses held by the engine itself (respondString/respondBytes), flushed with the arena's. */
let heldNatively = 0
let scheduled = false

function flush(): void {
  scheduled = false
  settle()
}

/** Hands every held response to the engine now. */
export function settle(): void {
  if (held === 0 && heldNatively === 0) return
  const count = held
  held = 0
  used = 0
  heldNatively = 0
  native.flushResponses(records, arena, count)
}

function schedule(): void {
  if (held + heldNatively >= flushEvery) settle()
  else if (!scheduled) {
    scheduled = true
    queueMicrotask(flush)
  }
}

function record(id: number, status: number, flags: number, headBytes: number, bodyBytes: number): void {
  const at = held * RECORD
  records[at] = id
  records[at + 1] = status
  records[at + 2] = flags
  records[at + 3] = headBytes
  records[at + 4] = bodyBytes
  held++
  used += headBytes + bodyBytes
}

/** Room for `bytes` more, flushing first when the arena is too full; false when it never could hold them. */
function room(bytes: number): boolean {
  if (bytes > ARENA_BYTES) return false
  if (used + bytes > ARENA_BYTES || held === MAX_HELD) settle()
  return true
}

/**
 * Completes a buffered response with a string body (UTF-8). `head` is the header block
 * (`name:value\n`...), validated as Node's setHeader validates; `reason` a status message other
 * than the code's own, which the engine checks at once (it throws, as Node's writeHead).
 */
export function respondString(id: number, status: number, head: string, body: string, flags: number, reason: string | undefined): void {
  if (reason === undefined) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: the exact size is asked only when that may not fit
    const most = (head.length + body.length) * 3
    const fits = (used + most <= ARENA_BYTES && held !== MAX_HELD) || room(most <= ARENA_BYTES ? most : Buffer.byteLength(head) + Buffer.byteLength(body))
    if (fits) {
      const headBytes = arena.write(head, used)
      const bodyBytes = body.length === 0 ? 0 : arena.write(body, used + headBytes)
      record(id, status, flags, headBytes, bodyBytes)
      schedule()
      return
    }
  }
  native.respondString(id, status, head, body, flags, reason)
  heldNatively++
  schedule()
}

/** The same with a binary body. */
export function respondBytes(id: number, status: number, head: string, body: Uint8Array, flags: number, reason: string | undefined): void {
  if (reason === undefined && room(head.length * 3 + body.length)) {
    const headBytes = arena.write(head, used)
    arena.set(body, used + headBytes)
    record(id, status, flags, headBytes, body.length)
    schedule()
    return
  }
  native.respondBytes(id, status, head, body, flags, reason)
  heldNatively++
  schedule()
}
