// `res`: Node's ServerResponse surface (an EventEmitter-based stream, as Node's own is) plus
// Express 5's response members. A response written with one `end()` crosses to the engine in a
// single native call; `write()` streams with backpressure (`false`, then `'drain'`).
import { EventEmitter } from 'node:events'
import { STATUS_CODES } from 'node:http'
import contentType from 'content-type'
import mime from 'mime-types'
import { native } from './binding'
import { scheduleFlush } from './engine/flush'
import { errors } from './errors'
import { kETagMode, kId, kNativeETag, kOnAbort, kOnDrain, kOutHeaders, kServer, kStreaming } from './symbols'
import type { Application } from './application'
import type { IncomingRequest } from './request'

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

function toChunk(chunk: unknown, encoding?: BufferEncoding): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding ?? 'utf8')
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw errors.invalidChunk(chunk)
}

export class ServerResponse extends EventEmitter {
  statusCode = 200
  statusMessage: string | undefined = undefined
  headersSent = false
  finished = false
  writableFinished = false
  sendDate = true
  chunkedEncoding = false
  strictContentLength = false
  readonly req: IncomingRequest
  app!: Application
  locals: Record<string, any> = Object.create(null);

  [kId]: number;
  [kOutHeaders]: Record<string, Entry> = Object.create(null);
  [kStreaming] = false;
  /** The entity tag the engine adds to the body given to end(): 0 none, 1 weak, 2 strong. */
  [kNativeETag] = 0;
  /** The server that tracks this exchange until it completes. */
  [kServer]: { forget(id: number): void } | undefined = undefined

  constructor(req: IncomingRequest) {
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
  get writableEnded() {
    return this.finished
  }
  get writable() {
    return !this.finished
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
  get destroyed() {
    return this.socket.destroyed
  }

  // ---- Node headers API ----

  setHeader(name: string, value: OutValue): this {
    if (this.headersSent) throw errors.headersSent('set')
    validateHeader(name, value)
    this[kOutHeaders][name.toLowerCase()] = [name, value]
    return this
  }

  appendHeader(name: string, value: OutValue): this {
    if (this.headersSent) throw errors.headersSent('append')
    validateHeader(name, value)
    const key = name.toLowerCase()
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
    return this[kOutHeaders][name.toLowerCase()]?.[1]
  }

  getHeaders(): Record<string, OutValue> {
    const out: Record<string, OutValue> = Object.create(null)
    for (const key in this[kOutHeaders]) out[key] = this[kOutHeaders][key][1]
    return out
  }

  getHeaderNames(): string[] {
    return Object.keys(this[kOutHeaders])
  }

  getRawHeaderNames(): string[] {
    return Object.values(this[kOutHeaders]).map((e) => e[0])
  }

  hasHeader(name: string): boolean {
    return this[kOutHeaders][name.toLowerCase()] !== undefined
  }

  removeHeader(name: string): void {
    if (this.headersSent) throw errors.headersSent('remove')
    delete this[kOutHeaders][name.toLowerCase()]
  }

  writeHead(statusCode: number, reason?: string | Record<string, OutValue> | OutValue[], headers?: Record<string, OutValue> | OutValue[]): this {
    if (this.headersSent) throw errors.headersSent('write')
    if (typeof reason !== 'string') {
      headers = reason
      reason = undefined
    }
    const code = statusCode | 0
    if (code < 100 || code > 999 || code !== Number(statusCode)) throw errors.invalidStatusCode(statusCode)
    this.statusCode = code
    if (reason !== undefined) this.statusMessage = reason
    if (Array.isArray(headers)) {
      // flat [name, value, name, value] as Node accepts
      for (let i = 0; i + 1 < headers.length; i += 2) this.appendHeader(String(headers[i]), headers[i + 1] as OutValue)
    } else if (headers) {
      for (const name of Object.keys(headers)) {
        if (headers[name] !== undefined) this.setHeader(name, headers[name])
      }
    }
    this.headersSent = true
    return this
  }

  flushHeaders(): void {
    if (!this[kStreaming]) this.startStreaming()
  }

  private headerBlock(): string {
    let block = ''
    const entries = this[kOutHeaders]
    for (const key in entries) {
      const value = entries[key][1]
      if (Array.isArray(value)) {
        for (const v of value) block += key + ':' + v + '\n'
      } else {
        block += key + ':' + value + '\n'
      }
    }
    return block
  }

  private startStreaming() {
    this.headersSent = true
    this[kStreaming] = true
    this.chunkedEncoding = !this.hasHeader('content-length')
    native.writeHead(this[kId], this.statusCode, this.headerBlock())
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
    const buffer = toChunk(chunk, encoding)
    if (!this[kStreaming]) this.startStreaming()
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
    this.finished = true
    this.headersSent = true
    const id = this[kId]
    if (this[kStreaming]) {
      native.endResponse(id, chunk == null ? undefined : toChunk(chunk, encoding as BufferEncoding))
    } else {
      if (chunk == null) {
        native.respondString(id, this.statusCode, this.headerBlock(), '')
      } else if (typeof chunk === 'string' && (encoding === undefined || encoding === 'utf8' || encoding === 'utf-8')) {
        native.respondString(id, this.statusCode, this.headerBlock(), chunk, this[kNativeETag])
      } else {
        native.respondBytes(id, this.statusCode, this.headerBlock(), toChunk(chunk, encoding as BufferEncoding), this[kNativeETag])
      }
      scheduleFlush()
    }
    this.socket.currentRequest = 0
    this[kServer]?.forget(id)
    if (callback) this.once('finish', callback)
    // Only pay for the events someone listens to (on-finished and friends attach before end()).
    if (this.listenerCount('finish') !== 0 || this.listenerCount('close') !== 0 || this.req.listenerCount('close') !== 0) {
      process.nextTick(emitFinished, this)
    } else {
      this.writableFinished = true
    }
    return this
  }

  destroy(error?: Error): this {
    this.socket.destroy(error)
    return this
  }

  cork(): void {}
  uncork(): void {}
  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms, callback)
    return this
  }
  addTrailers(): void {
    throw errors.notSupported('res.addTrailers()')
  }
  writeContinue(): void {
    throw errors.notSupported('res.writeContinue()')
  }
  writeProcessing(): void {
    throw errors.notSupported('res.writeProcessing()')
  }

  [kOnDrain]() {
    this.emit('drain')
  }

  [kOnAbort]() {
    if (this.writableFinished) return
    this.socket.currentRequest = 0
    process.nextTick(() => this.emit('close'))
  }

  // ---- Express 5 response members ----

  status(code: number): this {
    this.statusCode = code
    return this
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
    const body = STATUS_CODES[code] || String(code)
    this.statusCode = code
    this.type('txt')
    return this.send(body)
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
      else if (typeof chunk === 'string') len = Buffer.byteLength(chunk, encoding)
      else {
        chunk = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        len = chunk.length
      }
      this.setHeader('Content-Length', len!)
    }
    if (generateETag && len !== undefined) {
      const mode = (etagFn as any)[kETagMode] as number | undefined
      const status = this.statusCode
      // The engine hashes exactly the body it sends, so only where that is the body Express
      // hashed and no freshness check needs the tag here.
      if (mode && req.method !== 'HEAD' && status !== 204 && status !== 205 && status !== 304 && !hasConditionalHeaders(req)) {
        this[kNativeETag] = mode
      } else {
        const etag = etagFn!(chunk, encoding)
        if (etag) this.setHeader('ETag', etag)
      }
    }
    if (isFresh(req, this)) this.statusCode = 304
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

function emitFinished(res: ServerResponse) {
  res.writableFinished = true
  res.emit('finish')
  res.emit('close')
  res.req.emit('close')
}

function hasConditionalHeaders(req: IncomingRequest): boolean {
  return req.hasRawHeader('if-none-match') || req.hasRawHeader('if-modified-since')
}

/** Express's `req.fresh`, skipped cheaply when the request has no conditional headers. */
function isFresh(req: IncomingRequest, res: ServerResponse): boolean {
  if (!hasConditionalHeaders(req)) return false
  const method = req.method
  if (method !== 'GET' && method !== 'HEAD') return false
  const status = res.statusCode
  if ((status < 200 || status >= 300) && status !== 304) return false
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fresh = require('fresh') as (reqHeaders: any, resHeaders: any) => boolean
  return fresh(req.headers, { etag: res.getHeader('etag'), 'last-modified': res.getHeader('last-modified') })
}

function setCharset(type: string, charset: string): string {
  const parsed = contentType.parse(type)
  parsed.parameters.charset = charset
  return contentType.format(parsed)
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
