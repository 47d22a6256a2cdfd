// `res`: Node's ServerResponse surface (an EventEmitter-based stream, as Node's own is) plus
// Express 5's response members. A response written with one `end()` crosses to the engine in a
// single native call; `write()` streams with backpressure (`false`, then `'drain'`).
import { EventEmitter } from 'node:events'
import { STATUS_CODES } from 'node:http'
import { basename, extname, isAbsolute, resolve } from 'node:path'
import { create as contentDisposition } from 'content-disposition'
import { format as formatContentType, parse as parseContentType } from 'content-type'
import cookie from 'cookie'
import { sign } from 'cookie-signature'
import encodeUrl from 'encodeurl'
import escapeHtml from 'escape-html'
import createError from 'http-errors'
import mime from 'mime-types'
import onFinished from 'on-finished'
import send from 'send'
import statuses from 'statuses'
import vary from 'vary'
import { native } from './binding'
import { scheduleFlush } from './engine/flush'
import { errors } from './errors'
import { preludeHeaders } from './prelude'
import {
  kChunkedByDefault,
  kETagMode,
  kHead,
  kId,
  kLatin1Head,
  kKeepAlive,
  kNativeETag,
  kOnAbort,
  kOnDrain,
  kOutHeaders,
  kPreludeNames,
  kPreludeTaken,
  kPreludeText,
  kServer,
  kStreaming,
  kTakePrelude,
} from './symbols'
import type { Application } from './application'
import type { EngineIncomingMessage, IncomingRequest } from './request'

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

const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

type OutValue = string | number | readonly string[]
type Entry = [name: string, value: OutValue]

function validateHeader(name: string, value: unknown) {
  if (typeof name !== 'string' || !TOKEN.test(name)) throw errors.invalidHeaderName(String(name))
  if (value === undefined) throw errors.missingHeaderValue(name)
  if (Array.isArray(value)) {
    for (const v of value) if (INVALID_VALUE.test(String(v))) throw errors.invalidHeaderValue(name)
  } else if (INVALID_VALUE.test(String(value))) {
    throw errors.invalidHeaderValue(name)
  }
}

// Node's errors for writeHead(), with Node's codes (not in ./errors: only writeHead throws them).
function invalidArgValue(name: string, value: unknown) {
  return Object.assign(new TypeError(`The argument '${name}' is invalid. Received ${JSON.stringify(value)}`), { code: 'ERR_INVALID_ARG_VALUE' })
}
function invalidStatusMessage() {
  return Object.assign(new TypeError('Invalid character in statusMessage'), { code: 'ERR_INVALID_CHAR' })
}

function toChunk(chunk: unknown, encoding?: BufferEncoding): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8')
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw errors.invalidChunk(chunk)
}

/**
 * Node's ServerResponse surface only: what a plain `(req, res)` listener gets. Middleware probe
 * for Express's members (the `cookies` package uses `res.set` when it exists), so they are not here.
 */
export class EngineServerResponse extends EventEmitter {
  statusCode = 200
  statusMessage: string | undefined = undefined
  headersSent = false
  finished = false
  writableFinished = false
  sendDate = true
  chunkedEncoding = false
  strictContentLength = false
  readonly req: EngineIncomingMessage;

  [kId]: number;
  [kOutHeaders]: Record<string, Entry> = Object.create(null);
  [kStreaming] = false;
  /**
   * Set by writeHead(): Node writes the head there, so a later `res.statusCode = 200` (on-headers'
   * own tests do it) changes the property, not what is sent.
   */
  [kHead]: [code: number, message: string | undefined] | undefined = undefined;
  /** The entity tag the engine adds to the body given to end(): 0 none, 1 weak, 2 strong. */
  [kNativeETag] = 0;
  /** The server that tracks this exchange until it completes. */
  [kServer]: { forget(id: number): void } | undefined = undefined;
  [kKeepAlive]: boolean | undefined = undefined;
  [kChunkedByDefault]: boolean | undefined = undefined;
  /** What the native prelude decided for the request, when it ran (see ./prelude.ts). */
  [kPreludeText]: string | undefined = undefined;
  /**
   * The names of the headers the prelude may have set, while those are still only the engine's:
   * touching one takes them all into this response's own, in front, as if the middleware had set them.
   */
  [kPreludeNames]: Set<string> | undefined = undefined;
  [kPreludeTaken] = false;
  /** res.send() keeps a string body that Express would have made a Buffer: the head stays Latin-1. */
  [kLatin1Head] = false

  constructor(req: EngineIncomingMessage) {
    super()
    this.req = req
    this[kId] = req[kId]
  }

  get socket() {
    return this.req.socket
  }
  get connection() {
    return this.req.socket
  }
  /** As Node's OutgoingMessage: stays true after end(); `writableEnded` tells. */
  writable = true
  destroyed = false
  closed = false
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
  get writableLength() {
    return 0
  }
  get writableHighWaterMark() {
    return 16384
  }
  get writableCorked() {
    return 0
  }
  get writableNeedDrain() {
    return false
  }

  // ---- Node headers API ----

  /** Takes the native prelude's headers into this response's own, in front: they were set first. */
  [kTakePrelude](): void {
    this[kPreludeNames] = undefined
    const text = this[kPreludeText]
    if (text === undefined || this[kPreludeTaken]) return
    this[kPreludeTaken] = true
    const own = this[kOutHeaders]
    const headers: Record<string, Entry> = Object.create(null)
    for (const [key, entry] of preludeHeaders(text)) headers[key] = entry
    // a name JS set too (through Node's own OutgoingMessage methods) keeps the prelude's place
    for (const key in own) headers[key] = own[key]
    this[kOutHeaders] = headers
  }

  setHeader(name: string, value: OutValue): this {
    if (this.headersSent) throw errors.headersSent('set')
    validateHeader(name, value)
    const key = name.toLowerCase()
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    this[kOutHeaders][key] = [name, value]
    return this
  }

  appendHeader(name: string, value: OutValue): this {
    if (this.headersSent) throw errors.headersSent('append')
    validateHeader(name, value)
    const key = name.toLowerCase()
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    const existing = this[kOutHeaders][key]
    if (existing === undefined) {
      this[kOutHeaders][key] = [name, value]
    } else {
      const list = Array.isArray(existing[1]) ? [...existing[1]] : [String(existing[1])]
      existing[1] = list.concat(value as any)
    }
    return this
  }

  getHeader(name: string): OutValue | undefined {
    const key = name.toLowerCase()
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    return this[kOutHeaders][key]?.[1]
  }

  getHeaders(): Record<string, OutValue> {
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    const out: Record<string, OutValue> = Object.create(null)
    for (const key in this[kOutHeaders]) out[key] = this[kOutHeaders][key][1]
    return out
  }

  getHeaderNames(): string[] {
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    return Object.keys(this[kOutHeaders])
  }

  getRawHeaderNames(): string[] {
    if (this[kPreludeNames] !== undefined) this[kTakePrelude]()
    return Object.values(this[kOutHeaders]).map((e) => e[0])
  }

  hasHeader(name: string): boolean {
    const key = name.toLowerCase()
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    return this[kOutHeaders][key] !== undefined
  }

  removeHeader(name: string): void {
    if (this.headersSent) throw errors.headersSent('remove')
    const key = name.toLowerCase()
    if (this[kPreludeNames]?.has(key)) this[kTakePrelude]()
    delete this[kOutHeaders][key]
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
      // flat [name, value, name, value]; as Node 20, a repeated name keeps its last value
      if (headers.length % 2 !== 0) throw invalidArgValue('headers', headers)
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i]) this.setHeader(headers[i] as string, headers[i + 1] as OutValue)
      }
    } else if (headers) {
      for (const name of Object.keys(headers)) {
        if (name) this.setHeader(name, headers[name])
      }
    }
    if (INVALID_VALUE.test(this.statusMessage!)) throw invalidStatusMessage()
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
    const [status, message] = head === undefined ? [this.statusCode, this.statusMessage] : head
    return message === undefined || message === STATUS_CODES[status] ? undefined : message
  }

  /** Headers as `name:value` lines, names in the case the app last set them (Node sends that case). */
  private headerBlock(): string {
    let block = ''
    const entries = this[kOutHeaders]
    for (const key in entries) {
      const [name, value] = entries[key]
      if (Array.isArray(value)) {
        for (const v of value) block += name + ':' + v + '\n'
      } else {
        block += name + ':' + value + '\n'
      }
    }
    return block
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
    const below = buffer.length === 0 ? true : native.writeChunk(this[kId], buffer)
    if (callback) process.nextTick(callback)
    return below && !this.socket.destroyed
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
      native.endResponse(id, chunk == null ? undefined : toChunk(chunk, encoding as BufferEncoding))
    } else {
      // As Node: a HEAD answer announces no length it was not told (hyper would count the body).
      if (chunk != null && this.req.method === 'HEAD' && !this.hasHeader('content-length')) chunk = undefined
      if (chunk == null) {
        native.respondString(id, this.sentStatus(), this.headerBlock(), '', this.headFlags(), this.customReason())
      } else if (typeof chunk === 'string' && (encoding === undefined || encoding === 'utf8' || encoding === 'utf-8')) {
        const flags = utf8Head(chunk, encoding) && !this[kLatin1Head] ? this.responseFlags() | FLAG_UTF8_HEAD : this.responseFlags()
        native.respondString(id, this.sentStatus(), this.headerBlock(), chunk, flags, this.customReason())
      } else {
        native.respondBytes(id, this.sentStatus(), this.headerBlock(), toChunk(chunk, encoding as BufferEncoding), this.responseFlags(), this.customReason())
      }
      scheduleFlush()
    }
    this.socket.currentRequest = 0
    this[kServer]?.forget(id)
    if (callback) this.once('finish', callback)
    // Only pay for the events someone listens to (on-finished and friends attach before end()).
    // As Node once the socket took the data: finished now, 'finish' on the next tick.
    this.writableFinished = true
    if (this.listenerCount('finish') !== 0 || this.listenerCount('close') !== 0 || this.req.listenerCount('close') !== 0) {
      process.nextTick(emitFinished, this)
    } else {
      this.destroyed = true
      this.closed = true
    }
    return this
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this
    this.destroyed = true
    this.socket.destroy(error)
    return this
  }

  cork(): void {}
  uncork(): void {}
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
    if (this.writableFinished) return
    this.socket.currentRequest = 0
    this.destroyed = true
    this.closed = true
    this.emit('close')
  }

}

/** Express 5's `res`: what an app's responses are built from (`express.response`). */
export class ServerResponse extends EngineServerResponse {
  declare readonly req: IncomingRequest
  app!: Application
  locals: Record<string, any> = Object.create(null)

  status(code: number): this {
    if (!Number.isInteger(code)) {
      throw new TypeError(`Invalid status code: ${JSON.stringify(code)}. Status code must be an integer.`)
    }
    if (code < 100 || code > 999) {
      throw new RangeError(`Invalid status code: ${JSON.stringify(code)}. Status code must be greater than 99 and less than 1000.`)
    }
    this.statusCode = code
    return this
  }

  links(links: Record<string, string | string[]>): this {
    let link = (this.get('Link') as string) || ''
    if (link) link += ', '
    return this.set(
      'Link',
      link +
        Object.keys(links)
          .map((rel) => {
            const value = links[rel]
            if (Array.isArray(value)) return value.map((single) => `<${single}>; rel="${rel}"`).join(', ')
            return `<${value}>; rel="${rel}"`
          })
          .join(', '),
    )
  }

  set(field: string | Record<string, any>, value?: any): this {
    if (typeof field === 'object') {
      for (const key in field) this.set(key, field[key])
      return this
    }
    let v = Array.isArray(value) ? value.map(String) : String(value)
    if (field.toLowerCase() === 'content-type') {
      if (Array.isArray(v)) throw new TypeError('Content-Type cannot be set to an Array')
      v = mime.contentType(v) || v
    }
    this.setHeader(field, v)
    return this
  }

  header(field: string | Record<string, any>, value?: any): this {
    return this.set(field, value)
  }

  get(field: string): OutValue | undefined {
    return this.getHeader(field)
  }

  append(field: string, value: string | string[]): this {
    const prev = this.get(field)
    let next: any = value
    if (prev) next = Array.isArray(prev) ? prev.concat(value) : Array.isArray(value) ? [prev].concat(value) : [prev, value]
    return this.set(field, next)
  }

  type(type: string): this {
    const ct = type.indexOf('/') === -1 ? mime.contentType(type) || 'application/octet-stream' : type
    return this.set('Content-Type', ct)
  }

  contentType(type: string): this {
    return this.type(type)
  }

  sendStatus(code: number): this {
    const body = (statuses.message as Record<number, string | undefined>)[code] || String(code)
    this.status(code)
    this.type('txt')
    return this.send(body)
  }

  jsonp(obj: unknown): this {
    const app = this.app
    let body: string | undefined = stringify(obj, app.get('json replacer'), app.get('json spaces'), app.get('json escape'))
    let callback = (this.req.query as Record<string, any>)[app.get('jsonp callback name')]
    if (!this.get('Content-Type')) {
      this.set('X-Content-Type-Options', 'nosniff')
      this.set('Content-Type', 'application/json')
    }
    if (Array.isArray(callback)) callback = callback[0]
    if (typeof callback === 'string' && callback.length !== 0) {
      this.set('X-Content-Type-Options', 'nosniff')
      this.set('Content-Type', 'text/javascript')
      callback = callback.replace(/[^[\]\w$.]/g, '')
      if (body === undefined) body = ''
      else if (typeof body === 'string') body = body.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
      // the /**/ is Express's mitigation for "Rosetta Flash JSONP abuse"
      body = '/**/ typeof ' + callback + " === 'function' && " + callback + '(' + body + ');'
    }
    return this.send(body)
  }

  sendFile(path: string, options?: SendFileOptions | SendFileCallback, callback?: SendFileCallback): void {
    let done = callback
    const req = this.req
    const next = req.next
    let opts = (options || {}) as SendFileOptions
    if (!path) throw new TypeError('path argument is required to res.sendFile')
    if (typeof path !== 'string') throw new TypeError('path must be a string to res.sendFile')
    if (typeof options === 'function') {
      done = options
      opts = {}
    }
    if (!opts.root && !isAbsolute(path)) throw new TypeError('path must be absolute or specify root to res.sendFile')
    const pathname = encodeURI(path)
    // wire the application's etag setting to send, as Express does
    opts.etag = this.app.enabled('etag')
    const file = send(req as any, pathname, opts as any)
    sendfile(this, file, opts, (err?: any) => {
      if (done) return done(err)
      if (err && err.code === 'EISDIR') return next!()
      if (err && err.code !== 'ECONNABORTED' && err.syscall !== 'write') next!(err)
    })
  }

  download(path: string, filename?: any, options?: any, callback?: SendFileCallback): void {
    let done = callback
    let name = filename
    let opts = options || null
    if (typeof filename === 'function') {
      done = filename
      name = null
      opts = null
    } else if (typeof options === 'function') {
      done = options
      opts = null
    }
    if (typeof filename === 'object' && (typeof options === 'function' || options === undefined)) {
      name = null
      opts = filename
    }
    const headers: Record<string, any> = { 'Content-Disposition': contentDisposition(basename(name || path)) }
    if (opts && opts.headers) {
      for (const key of Object.keys(opts.headers)) {
        if (key.toLowerCase() !== 'content-disposition') headers[key] = opts.headers[key]
      }
    }
    opts = Object.create(opts)
    opts.headers = headers
    const fullPath = !opts.root ? resolve(path) : path
    return this.sendFile(fullPath, opts, done)
  }

  format(obj: Record<string, (req: any, res: any, next: any) => void>): this {
    const req = this.req as any
    const next = req.next
    const keys = Object.keys(obj).filter((v) => v !== 'default')
    const key = keys.length > 0 ? req.accepts(keys) : false
    this.vary('Accept')
    if (key) {
      this.set('Content-Type', normalizeType(key))
      obj[key](req, this, next)
    } else if (obj.default) {
      obj.default(req, this, next)
    } else {
      next(createError(406, { types: keys.map(normalizeType) }))
    }
    return this
  }

  attachment(filename?: string): this {
    const name = filename !== undefined ? basename(filename) : undefined
    if (name) this.type(extname(name))
    this.set('Content-Disposition', contentDisposition(name))
    return this
  }

  cookie(name: string, value: unknown, options?: CookieOptions): this {
    const opts: CookieOptions = { ...options }
    const secret = (this.req as any).secret
    const signed = opts.signed
    if (signed && !secret) throw new Error('cookieParser("secret") required for signed cookies')
    let val = typeof value === 'object' ? 'j:' + JSON.stringify(value) : String(value)
    if (signed) val = 's:' + sign(val, secret)
    if (opts.maxAge != null) {
      const maxAge = (opts.maxAge as number) - 0
      if (!isNaN(maxAge)) {
        opts.expires = new Date(Date.now() + maxAge)
        opts.maxAge = Math.floor(maxAge / 1000)
      }
    }
    if (opts.path == null) opts.path = '/'
    this.append('Set-Cookie', cookie.serialize(name, String(val), opts as cookie.CookieSerializeOptions))
    return this
  }

  clearCookie(name: string, options?: CookieOptions): this {
    // expire in the past; maxAge would override that, so it goes
    const opts: CookieOptions = { path: '/', ...options, expires: new Date(1) }
    delete opts.maxAge
    return this.cookie(name, '', opts)
  }

  location(url: string): this {
    // Express 5: no 'back' alias (use req.get('Referrer') || '/')
    return this.set('Location', encodeUrl(url))
  }

  redirect(url: string | number, ...rest: any[]): void {
    let address: any = url
    let body = ''
    let status: any = 302
    if (arguments.length === 2) {
      status = url
      address = rest[0]
    }
    address = this.location(address).get('Location')
    const message = (statuses.message as Record<number, string | undefined>)[status]
    this.format({
      text: () => {
        body = message + '. Redirecting to ' + address
      },
      html: () => {
        const u = escapeHtml(address)
        body = '<!DOCTYPE html><head><title>' + message + '</title></head>' + '<body><p>' + message + '. Redirecting to ' + u + '</p></body>'
      },
      default: () => {
        body = ''
      },
    })
    this.status(status)
    this.set('Content-Length', Buffer.byteLength(body))
    if (this.req.method === 'HEAD') this.end()
    else this.end(body)
  }

  vary(field: string | string[]): this {
    vary(this as any, field)
    return this
  }

  render(view: string, options?: Record<string, any> | RenderCallback, callback?: RenderCallback): void {
    const app = this.req.app
    let done = callback
    let opts: Record<string, any> = (options as Record<string, any>) || {}
    const req = this.req
    if (typeof options === 'function') {
      done = options as RenderCallback
      opts = {}
    }
    opts._locals = this.locals
    done =
      done ||
      ((err: any, str?: string) => {
        if (err) return req.next!(err)
        this.send(str)
      })
    app.render(view, opts, done)
  }

  json(obj: unknown): this {
    const app = this.app
    const body = stringify(obj, app?.get('json replacer'), app?.get('json spaces'), app?.get('json escape'))
    if (!this.hasHeader('content-type')) this.setHeader('Content-Type', 'application/json; charset=utf-8')
    return this.send(body)
  }

  send(body?: unknown): this {
    let chunk: any = body
    let encoding: BufferEncoding | undefined
    const req = this.req
    switch (typeof chunk) {
      case 'string':
        if (!this.hasHeader('content-type')) this.type('html')
        break
      case 'boolean':
      case 'number':
      case 'object':
        if (chunk === null) chunk = ''
        else if (ArrayBuffer.isView(chunk)) {
          if (!this.hasHeader('content-type')) this.type('bin')
        } else return this.json(chunk)
        break
    }
    if (typeof chunk === 'string') {
      encoding = 'utf8'
      const type = this.getHeader('content-type')
      if (typeof type === 'string' && type !== 'application/json; charset=utf-8' && type !== 'text/html; charset=utf-8') {
        this.setHeader('Content-Type', setCharset(type, 'utf-8'))
      }
    }
    const etagFn = this.app?.get('etag fn') as ((body: any, encoding?: string) => string) | undefined
    const generateETag = typeof etagFn === 'function' && !this.hasHeader('etag')
    let len: number | undefined
    if (chunk !== undefined) {
      if (Buffer.isBuffer(chunk)) len = chunk.length
      else if (!generateETag && chunk.length < 1000) len = Buffer.byteLength(chunk, encoding)
      else if (typeof chunk === 'string') {
        // Express turns it into a Buffer here, which Node writes after a Latin-1 head
        len = Buffer.byteLength(chunk, encoding)
        this[kLatin1Head] = true
      }
      else {
        chunk = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        len = chunk.length
      }
      // Content-Length and Transfer-Encoding exclude each other (Express 5.3): an app that set the
      // latter frames the body itself
      if (!this.hasHeader('transfer-encoding')) this.setHeader('Content-Length', len!)
    }
    if (generateETag && len !== undefined) {
      const mode = (etagFn as any)[kETagMode] as number | undefined
      const status = this.statusCode
      // The engine hashes exactly the body it sends, so only where that is the body Express
      // hashed and no freshness check needs the tag here.
      // Not when end/writeHead are wrapped: a wrapper must see the ETag header as under Express.
      if (mode && req.method !== 'HEAD' && status !== 204 && status !== 205 && status !== 304 && this.end === protoEnd && this.writeHead === protoWriteHead && !hasConditionalHeaders(req)) {
        this[kNativeETag] = mode
      } else {
        const etag = etagFn!(chunk, encoding)
        if (etag) this.setHeader('ETag', etag)
      }
    }
    if (isFresh(req)) this.statusCode = 304
    if (this.statusCode === 204 || this.statusCode === 304) {
      this.removeHeader('Content-Type')
      this.removeHeader('Content-Length')
      this.removeHeader('Transfer-Encoding')
      chunk = ''
    }
    if (this.statusCode === 205) {
      this.setHeader('Content-Length', '0')
      this.removeHeader('Transfer-Encoding')
      chunk = ''
    }
    if (req.method === 'HEAD') this.end()
    else this.end(chunk, encoding)
    return this
  }
}

const protoWriteHead = EngineServerResponse.prototype.writeHead
const protoImplicitHeader = EngineServerResponse.prototype._implicitHeader
const protoEnd = EngineServerResponse.prototype.end

export type SendFileCallback = (err?: any) => void
export type RenderCallback = (err: any, html?: string) => void
export interface SendFileOptions {
  root?: string
  headers?: Record<string, any>
  dotfiles?: 'allow' | 'deny' | 'ignore'
  maxAge?: string | number
  lastModified?: boolean
  cacheControl?: boolean
  immutable?: boolean
  acceptRanges?: boolean
  etag?: boolean
  [option: string]: any
}
export interface CookieOptions {
  maxAge?: number
  signed?: boolean
  expires?: Date
  httpOnly?: boolean
  path?: string
  domain?: string
  secure?: boolean
  encode?: (val: string) => string
  sameSite?: boolean | 'lax' | 'strict' | 'none'
  priority?: 'low' | 'medium' | 'high'
  partitioned?: boolean
  [option: string]: any
}

/** Express's utils.normalizeType(type).value: an extension or a full type (parameters dropped), to a media type. */
function normalizeType(type: string): string {
  if (type.indexOf('/') === -1) return mime.lookup(type) || 'application/octet-stream'
  const semi = type.indexOf(';')
  return (semi === -1 ? type : type.slice(0, semi)).trim()
}

/** Express's sendfile(): pipes a send stream into res and reports the outcome once. */
function sendfile(res: ServerResponse, file: any, options: SendFileOptions, callback: (err?: any) => void) {
  let done = false
  let streaming: boolean | undefined
  function onaborted() {
    if (done) return
    done = true
    const err: any = new Error('Request aborted')
    err.code = 'ECONNABORTED'
    callback(err)
  }
  function ondirectory() {
    if (done) return
    done = true
    const err: any = new Error('EISDIR, read')
    err.code = 'EISDIR'
    callback(err)
  }
  function onerror(err: any) {
    if (done) return
    done = true
    callback(err)
  }
  function onend() {
    if (done) return
    done = true
    callback()
  }
  function onfile() {
    streaming = false
  }
  function onfinish(err: any) {
    if (err && err.code === 'ECONNRESET') return onaborted()
    if (err) return onerror(err)
    if (done) return
    setImmediate(() => {
      if (streaming !== false && !done) {
        onaborted()
        return
      }
      if (done) return
      done = true
      callback()
    })
  }
  function onstream() {
    streaming = true
  }
  file.on('directory', ondirectory)
  file.on('end', onend)
  file.on('error', onerror)
  file.on('file', onfile)
  file.on('stream', onstream)
  onFinished(res as any, onfinish)
  if (options.headers) {
    file.on('headers', (r: ServerResponse) => {
      const obj = options.headers!
      for (const k of Object.keys(obj)) r.setHeader(k, obj[k])
    })
  }
  file.pipe(res)
}

function emitFinished(res: EngineServerResponse) {
  res.emit('finish')
  res.destroyed = true
  res.closed = true
  res.emit('close')
  res.req.emit('close')
}

/** Node's rule for a server response: HTTP/1.1 unless the client says close; HTTP/1.0 if it asks. */
function wantsKeepAlive(req: EngineIncomingMessage): boolean {
  const connection = req.headers.connection
  const tokens = typeof connection === 'string' ? connection.toLowerCase() : ''
  return req.httpVersionMinor === 0 ? /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(tokens) : !/(?:^|,)\s*close\s*(?:,|$)/.test(tokens)
}

function hasConditionalHeaders(req: IncomingRequest): boolean {
  return req.hasRawHeader('if-none-match') || req.hasRawHeader('if-modified-since')
}

/** Express's `req.fresh`, skipped cheaply when the request has no conditional headers. */
function isFresh(req: IncomingRequest): boolean {
  return hasConditionalHeaders(req) && req.fresh
}

// content-type 2 (Express 5.3's): parameters keep their order and a malformed one is skipped
// rather than thrown on
function setCharset(type: string, charset: string): string {
  const parsed = parseContentType(type)
  parsed.parameters.charset = charset
  return formatContentType(parsed)
}

export function stringify(value: unknown, replacer?: any, spaces?: any, escape?: boolean): string {
  let json = replacer || spaces ? JSON.stringify(value, replacer, spaces) : JSON.stringify(value)
  if (escape && typeof json === 'string') {
    json = json.replace(/[<>&]/g, (c) =>
      c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026',
    )
  }
  return json as string
}

export { STATUS_CODES }
