// Node's ServerResponse surface, as the engine gives it to a plain `(req, res)` listener (an
// EventEmitter-based stream, as Node's own is). A response written with one `end()` is handed to
// the engine with the others of its batch (./completions.ts); `write()` streams with backpressure
// (`false`, then `'drain'`).
import { STATUS_CODES } from 'node:http'
import { native } from '../binding'
import { errors } from '../errors'
import {
  kChunkedByDefault,
  kHead,
  kId,
  kKeepAlive,
  kLatin1Head,
  kNativeETag,
  kOnAbort,
  kOnDrain,
  kOutHeaders,
  kPreludeNames,
  kPreludeTaken,
  kServer,
  kStreaming,
  kTakePrelude,
} from '../symbols'
import { respondBytes, respondString } from './completions'
import { dumpUnread, type EngineIncomingMessage } from './incoming-message'
import { kAnswering } from './socket'
import { defaultHighWaterMark, flatHeadersAppend, writableFinishedAtFinish, writesJoinPerTick } from './node-behaviour'
import { INVALID_VALUE, type OutValue } from './outgoing-headers'
import { EngineOutgoingMessage } from './outgoing-message'

export type { OutValue }

/** Response flag for the engine: `res.sendDate = false`. */
const FLAG_NO_DATE = 4
/** Response flag for the engine: the headers hold the native prelude's (see ./prelude.ts). */
const FLAG_PRELUDE_IN_JS = 8
/**
 * Response flag for the engine: the head goes out as UTF-8. Node writes the head together with
 * the first body data when that is a string in UTF-8 (not chunked), in the string's encoding, so
 * Latin-1 characters in header values then take their UTF-8 bytes.
 */
const FLAG_UTF8_HEAD = 16

/** Whether Node writes the head in UTF-8 with this first body data (see FLAG_UTF8_HEAD). */
function utf8Head(chunk: unknown, encoding: unknown): boolean {
  return typeof chunk === 'string' && chunk.length !== 0 && (encoding === undefined || encoding === 'utf8')
}

// Chunks written while the response is corked (Node 24: until the tick ends), their total size,
// the cork count, and whether a write said false and 'drain' is owed.
const kJoined = Symbol('xypriss.joinedChunks')
const kJoinedLength = Symbol('xypriss.joinedLength')
const kCorked = Symbol('xypriss.corked')
const kNeedDrain = Symbol('xypriss.needDrain')

function toChunk(chunk: unknown, encoding?: BufferEncoding): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8')
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw errors.invalidChunk(chunk)
}

/**
 * Node's ServerResponse surface only: what a plain `(req, res)` listener gets. Middleware probe
 * for Express's members (the `cookies` package uses `res.set` when it exists), so they are not here.
 * The header methods and the EventEmitter surface come from EngineOutgoingMessage.
 */
export class EngineServerResponse extends EngineOutgoingMessage {
  statusCode = 200
  statusMessage: string | undefined = undefined
  finished = false
  writableFinished = false
  sendDate = true
  chunkedEncoding = false
  strictContentLength = false
  /** As Node's OutgoingMessage: stays true after end(); `writableEnded` tells. */
  writable = true
  destroyed = false
  closed = false
  readonly req: EngineIncomingMessage;

  [kId]: number;
  [kStreaming] = false;
  /**
   * Set by writeHead(): Node writes the head there, so a later `res.statusCode = 200` (on-headers'
   * own tests do it) changes the property, not what is sent.
   */
  [kHead]: [code: number, message: string | undefined] | undefined = undefined;
  /** The entity tag the engine adds to the body given to end(): 0 none, 1 weak, 2 strong. */
  [kNativeETag] = 0;
  /** The server that tracks this exchange until it completes. */
  [kServer]: { forget(id: number): void } | undefined;
  [kKeepAlive]: boolean | undefined = undefined;
  [kChunkedByDefault]: boolean | undefined = undefined;
  /** Chunks written while corked (Node 24), made by the first such write. */
  [kJoined]: Buffer[] | undefined = undefined;
  [kJoinedLength] = 0;
  [kCorked] = 0;
  [kNeedDrain] = false;
  /** Express's res.send() keeps a string body where Express makes a Buffer: the head stays Latin-1. */
  [kLatin1Head] = false

  constructor(req: EngineIncomingMessage, server?: { forget(id: number): void }) {
    super()
    this.req = req
    this[kId] = req[kId]
    this[kServer] = server
    req.socket[kAnswering].push(this)
  }

  get socket() {
    return this.req.socket
  }
  get connection() {
    return this.req.socket
  }
  get writableEnded() {
    return this.finished
  }
  get _headerSent() {
    return this.headersSent
  }
  get writableObjectMode() {
    return false
  }
  get maxRequestsOnConnectionReached() {
    return false
  }
  /** Node decides it from the request: HTTP/1.1 unless the client said close, or a 1.0 keep-alive. */
  get shouldKeepAlive(): boolean {
    return this[kKeepAlive] ?? (this[kKeepAlive] = wantsKeepAlive(this.req))
  }
  set shouldKeepAlive(value: boolean) {
    this[kKeepAlive] = value
  }
  /** False only towards an HTTP/1.0 client, as in Node. */
  get useChunkedEncodingByDefault(): boolean {
    return this[kChunkedByDefault] ?? this.req.httpVersionMinor !== 0
  }
  set useChunkedEncodingByDefault(value: boolean) {
    this[kChunkedByDefault] = value
  }
  /** What the response holds itself (joined chunks with their framing); the engine's buffer is not counted. */
  get writableLength() {
    const length = this[kJoinedLength]
    return length === 0 ? 0 : length + length.toString(16).length + 4
  }
  get writableHighWaterMark() {
    return defaultHighWaterMark
  }
  get writableCorked() {
    return this[kCorked]
  }
  get writableNeedDrain() {
    return false
  }

  /**
   * Node's writeHead. It only fixes status and headers: they reach the engine with the first
   * write()/end(). `reason` becomes `statusMessage`, which goes on the status line when it differs
   * from the code's canonical phrase.
   */
  writeHead(statusCode: number, reason?: string | Record<string, OutValue> | OutValue[], headers?: Record<string, OutValue> | OutValue[]): this {
    if (this.headersSent) throw errors.headersSent('write')
    const code = statusCode | 0
    if (code < 100 || code > 999) throw errors.invalidStatusCode(statusCode)
    if (typeof reason === 'string') {
      this.statusMessage = reason
    } else {
      this.statusMessage ||= STATUS_CODES[code] || 'unknown'
      headers ??= reason
    }
    this.statusCode = code
    if (Array.isArray(headers)) {
      // flat [name, value, name, value]: as the running Node (see node-behaviour.ts)
      if (headers.length % 2 !== 0) throw errors.invalidArgValue('headers', headers)
      if (flatHeadersAppend) {
        for (let i = 0; i < headers.length; i += 2) if (headers[i]) this.removeHeader(headers[i] as string)
        for (let i = 0; i < headers.length; i += 2) {
          if (headers[i]) this.appendHeader(headers[i] as string, headers[i + 1] as OutValue)
        }
      } else {
        for (let i = 0; i < headers.length; i += 2) {
          if (headers[i]) this.setHeader(headers[i] as string, headers[i + 1] as OutValue)
        }
      }
    } else if (headers) {
      for (const name of Object.keys(headers)) {
        if (name) this.setHeader(name, headers[name])
      }
    }
    if (INVALID_VALUE.test(this.statusMessage!)) throw errors.invalidStatusMessage()
    this.headersSent = true
    this[kHead] = [code, this.statusMessage]
    return this
  }

  /** What Node's write()/end() call when no writeHead() came first; compression and express-session call it too. */
  _implicitHeader(): void {
    this.writeHead(this.statusCode)
  }

  /** Node's head block once writeHead() fixed it, null before (middleware test its truthiness). */
  get _header(): string | null {
    if (!this.headersSent) return null
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    const status = this.sentStatus()
    let head = 'HTTP/1.1 ' + status + ' ' + (this.customReason() ?? (STATUS_CODES[status] || 'unknown')) + '\r\n'
    for (const key in this[kOutHeaders]) {
      const [name, value] = this[kOutHeaders][key]
      for (const v of Array.isArray(value) ? value : [value]) head += name + ': ' + v + '\r\n'
    }
    return head + '\r\n'
  }

  flushHeaders(): void {
    if (!this.headersSent) this._implicitHeader()
    if (!this[kStreaming]) this.startStreaming()
  }

  /** The status that goes out: writeHead()'s once it ran, else `statusCode`. */
  private sentStatus(): number {
    const head = this[kHead]
    return head === undefined ? this.statusCode : head[0]
  }

  /** Node's `_hasBody`: none in an answer to HEAD, a 204, a 304 or an interim 1xx. */
  private hasBody(): boolean {
    const status = this.sentStatus()
    return this.req.method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200
  }

  private bodyIsChunkedAfterExplicitHead(): boolean {
    const status = this.sentStatus()
    return (
      !this.hasHeader('content-length') &&
      status !== 204 &&
      status !== 304 &&
      status >= 200 &&
      this.req.method !== 'HEAD'
    )
  }

  /** For the engine: the entity tag it should add (1 weak, 2 strong) and the head's flags. */
  private responseFlags(): number {
    return this[kNativeETag] | this.headFlags()
  }

  /** For the engine: whether Date is left out and whether the headers hold the prelude's. */
  private headFlags(): number {
    let flags = this.sendDate ? 0 : FLAG_NO_DATE
    if (this[kPreludeTaken]) flags |= FLAG_PRELUDE_IN_JS
    return flags
  }

  /** The status message when it is not the code's canonical phrase (which the engine writes itself). */
  private customReason(): string | undefined {
    const head = this[kHead]
    const status = head === undefined ? this.statusCode : head[0]
    const message = head === undefined ? this.statusMessage : head[1]
    return message === undefined || message === STATUS_CODES[status] ? undefined : message
  }

  private startStreaming(utf8 = false) {
    this.headersSent = true
    this[kStreaming] = true
    this.chunkedEncoding = !this.hasHeader('content-length')
    // a chunked body's first write is its size line, in Latin-1: the head goes with that
    const flags = utf8 && !this.chunkedEncoding ? this.headFlags() | FLAG_UTF8_HEAD : this.headFlags()
    native.writeHead(this[kId], this.sentStatus(), this.headerBlock(), this.customReason(), flags)
  }

  write(chunk: unknown, encoding?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void): boolean {
    if (typeof encoding === 'function') {
      callback = encoding
      encoding = undefined
    }
    if (this.finished) {
      const error = errors.writeAfterEnd()
      process.nextTick(() => {
        callback?.(error)
        this.emit('error', error)
      })
      return false
    }
    this.socket.touch()
    const buffer = toChunk(chunk, encoding)
    if (!this[kStreaming]) {
      if (!this.headersSent) this._implicitHeader()
      this.startStreaming(utf8Head(chunk, encoding))
    }
    // As Node: an answer that has no body ignores writes, and never asks to wait.
    if (!this.hasBody()) {
      if (callback) process.nextTick(callback)
      return true
    }
    let below = true
    if (buffer.length === 0) {
      // nothing to frame
    } else if (writesJoinPerTick && this.chunkedEncoding && (this[kCorked] !== 0 || this.socket[kAnswering]?.[0] === this)) {
      // As Node 24: the first write of a tick corks the response that has the socket until the
      // tick ends, and what is written while corked goes out as one chunk.
      if (this[kCorked] === 0) {
        this[kCorked] = 1
        process.nextTick(uncorkAtTickEnd, this)
      }
      ;(this[kJoined] ??= []).push(buffer)
      this[kJoinedLength] += buffer.length
      below = this.writableLength < defaultHighWaterMark
      if (!below) this[kNeedDrain] = true
    } else {
      below = native.writeChunk(this[kId], buffer)
    }
    if (callback) process.nextTick(callback)
    return below && !this.socket.destroyed
  }

  /** The chunks joined while corked, in one native write; 'drain' if a write said false and the engine took them. */
  private writeJoined(): void {
    const joined = this[kJoined]
    if (joined === undefined || joined.length === 0) return
    const data = joined.length === 1 ? joined[0] : Buffer.concat(joined, this[kJoinedLength])
    this[kJoined] = undefined
    this[kJoinedLength] = 0
    if (this.destroyed || this.socket.destroyed) return
    const below = native.writeChunk(this[kId], data)
    if (this[kNeedDrain] && below) {
      this[kNeedDrain] = false
      this.emit('drain')
    }
  }

  /** The chunks joined so far with `last`, for the final write of end(). */
  private takeJoined(last: Buffer | undefined): Buffer | undefined {
    this[kCorked] = 0
    const joined = this[kJoined]
    if (joined === undefined || joined.length === 0) return last
    if (last !== undefined && last.length !== 0) joined.push(last)
    const data = joined.length === 1 ? joined[0] : Buffer.concat(joined)
    this[kJoined] = undefined
    this[kJoinedLength] = 0
    return data
  }

  end(chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (typeof chunk === 'function') {
      callback = chunk as () => void
      chunk = undefined
    } else if (typeof encoding === 'function') {
      callback = encoding
      encoding = undefined
    }
    if (this.finished) {
      if (callback) process.nextTick(callback)
      return this
    }
    // As Node: once writeHead() fixed a head without Content-Length, the body goes out chunked.
    if (this.headersSent && !this[kStreaming] && this.bodyIsChunkedAfterExplicitHead()) this.startStreaming()
    if (!this.headersSent) {
      // As Node: the first end() fixes the head through this.writeHead(), so a wrapped writeHead
      // (on-headers, compression, express-session) runs before anything is sent. Unwrapped, only
      // its status check matters.
      if (this.writeHead !== protoWriteHead || this._implicitHeader !== protoImplicitHeader) {
        this._implicitHeader()
      } else {
        const code = this.statusCode | 0
        if (code < 100 || code > 999) throw errors.invalidStatusCode(this.statusCode)
        // As Node's writeHead(), which end() runs: the phrase the status line carries.
        if (!this.statusMessage) this.statusMessage = STATUS_CODES[code] || 'unknown'
      }
    }
    this.finished = true
    this.headersSent = true
    const id = this[kId]
    if (this[kStreaming]) {
      native.endResponse(id, this.takeJoined(chunk == null ? undefined : toChunk(chunk, encoding as BufferEncoding)))
    } else {
      // As Node: a HEAD answer announces no length it was not told (hyper would count the body).
      if (chunk != null && this.req.method === 'HEAD' && !this.hasHeader('content-length')) chunk = undefined
      const status = this.sentStatus()
      const head = this.headerBlock()
      const reason = this.customReason()
      if (chunk == null) {
        respondString(id, status, head, '', this.headFlags(), reason)
      } else if (typeof chunk === 'string' && (encoding === undefined || encoding === 'utf8' || encoding === 'utf-8')) {
        const flags = utf8Head(chunk, encoding) && !this[kLatin1Head] ? this.responseFlags() | FLAG_UTF8_HEAD : this.responseFlags()
        respondString(id, status, head, chunk, flags, reason)
      } else {
        respondBytes(id, status, head, toChunk(chunk, encoding as BufferEncoding), this.responseFlags(), reason)
      }
    }
    const req = this.req
    // A later request on the connection may be the current one already (the engine dispatches
    // it once this answer's bytes are all out, a HEAD's or a 204's before its end()).
    if (req.socket.currentRequest === id) req.socket.currentRequest = 0
    leaveSocket(this)
    this[kServer]?.forget(id)
    if (callback) this.once('finish', callback)
    // Only pay for the events someone listens to (on-finished and friends attach before end()).
    // As Node once the socket took the data: 'finish' on the next tick, writableFinished before it
    // (Node 24: with it; with no listener there is no 'finish' to wait for).
    if (
      (this._eventsCount !== 0 || req._eventsCount !== 0) &&
      (this.listenerCount('finish') !== 0 ||
        this.listenerCount('close') !== 0 ||
        req.listenerCount('close') !== 0 ||
        req.listenerCount('end') !== 0)
    ) {
      if (!writableFinishedAtFinish) this.writableFinished = true
      process.nextTick(emitFinished, this)
    } else {
      this.writableFinished = true
      this.destroyed = true
      this.closed = true
    }
    return this
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this
    this.destroyed = true
    this[kJoined] = undefined
    this[kJoinedLength] = 0
    this.socket.destroy(error)
    return this
  }

  /** As Node 24 (before it, the socket was corked and each write stayed its own chunk). */
  cork(): void {
    if (writesJoinPerTick) this[kCorked]++
  }
  uncork(): void {
    if (this[kCorked] === 0) return
    if (--this[kCorked] === 0) this.writeJoined()
  }
  /** As Node: the callback listens on the response, the timer is the socket's. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.on('timeout', callback)
    this.socket.setTimeout(ms)
    return this
  }
  addTrailers(): void {
    throw errors.notSupported('res.addTrailers()')
  }
  /** The engine answers `Expect: 100-continue` itself when the body is first read. */
  writeContinue(callback?: () => void): void {
    if (callback) process.nextTick(callback)
  }
  // Informational responses (102, 103) are hints a client may go without; hyper cannot send
  // them, so they are dropped rather than failing the request.
  writeProcessing(callback?: () => void): void {
    if (callback) process.nextTick(callback)
  }
  writeEarlyHints(_hints: Record<string, string | string[]>, callback?: () => void): void {
    if (callback) process.nextTick(callback)
  }

  [kOnDrain]() {
    this.emit('drain')
  }

  /** The connection closed first: as Node, 'close' right after the request's 'aborted'. */
  [kOnAbort]() {
    if (this.finished) return
    if (this.socket.currentRequest === this[kId]) this.socket.currentRequest = 0
    leaveSocket(this)
    this.destroyed = true
    this.closed = true
    this.emit('close')
  }

}

export const protoWriteHead = EngineServerResponse.prototype.writeHead
export const protoImplicitHeader = EngineServerResponse.prototype._implicitHeader
export const protoEnd = EngineServerResponse.prototype.end

/** The response is over: the next one on its connection has the socket. */
function leaveSocket(res: EngineServerResponse) {
  const answering = res.socket[kAnswering]
  if (answering === undefined) return
  // nearly always the only one
  if (answering.length === 1 && answering[0] === res) answering.pop()
  else if (answering[0] === res) answering.shift()
  else {
    const at = answering.indexOf(res)
    if (at !== -1) answering.splice(at, 1)
  }
}

/** Node 24's tick-end uncork of a response its first write corked. */
function uncorkAtTickEnd(res: EngineServerResponse) {
  if (!res.finished) res.uncork()
}

/**
 * As Node's server when a response finishes: the request nobody read is read to its end and
 * dropped (it then ends and closes as a stream does), 'finish', and 'close' on the next tick.
 */
function emitFinished(res: EngineServerResponse) {
  res.writableFinished = true
  const dumped = dumpUnread(res.req)
  process.nextTick(emitClose, res, dumped)
  res.emit('finish')
}

function emitClose(res: EngineServerResponse, requestDumped: boolean) {
  res.destroyed = true
  res.closed = true
  res.emit('close')
  // a request read to its end closed as a stream; one the engine still held the body of closes now
  if (!requestDumped && !res.req.destroyed) res.req.emit('close')
}

/** Node's rule for a server response: HTTP/1.1 unless the client says close; HTTP/1.0 if it asks. */
function wantsKeepAlive(req: EngineIncomingMessage): boolean {
  const connection = req.headers.connection
  const tokens = typeof connection === 'string' ? connection.toLowerCase() : ''
  return req.httpVersionMinor === 0 ? /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(tokens) : !/(?:^|,)\s*close\s*(?:,|$)/.test(tokens)
}
