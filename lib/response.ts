// Express 5's `res` (`express.response`): the members Express adds over Node's ServerResponse
// surface, which lib/engine/server-response.ts gives every response.
import type { ServerResponse as NodeServerResponse } from 'node:http'
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
import { EngineServerResponse, type OutValue, protoEnd, protoWriteHead } from './engine/server-response'
import { errors } from './errors'
import type { IncomingRequest } from './request'
import { kETagMode, kHasKnownHeader, kHeaders, kLatin1Head, kLocals, kNativeETag, kRawHeaders, kSetKnownHeader } from './symbols'
import type { AppContext, JsonReplacer, NextFunction, RenderCallback } from './types'

/**
 * The response as the header helpers (vary, on-finished) take it: they use getHeader, setHeader
 * and the events, which the engine's response has as Node's does.
 */
function asNodeResponse(res: EngineServerResponse): NodeServerResponse {
  return res as unknown as NodeServerResponse
}

type FormatHandler = (req: IncomingRequest, res: ServerResponse, next: NextFunction) => void


/** Express 5's `res`: what an app's responses are built from (`express.response`). */
export class ServerResponse extends EngineServerResponse {
  declare readonly req: IncomingRequest
  app!: AppContext
  [kLocals]: Record<string, unknown> | undefined = undefined

  /** Express gives every response its locals; here they are made when first used. */
  get locals(): Record<string, unknown> {
    return (this[kLocals] ??= Object.create(null) as Record<string, unknown>)
  }

  set locals(value: Record<string, unknown>) {
    this[kLocals] = value
  }

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

  set(field: string | Record<string, unknown>, value?: unknown): this {
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

  header(field: string | Record<string, unknown>, value?: unknown): this {
    return this.set(field, value)
  }

  get(field: string): OutValue | undefined {
    return this.getHeader(field)
  }

  append(field: string, value: string | string[]): this {
    const prev = this.get(field)
    let next: unknown = value
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
    let callback = this.req.query[app.get('jsonp callback name')]
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
    const file = send(req, pathname, opts as send.SendOptions)
    sendfile(this, file, opts, (err?: SendError) => {
      if (done) {
        done(err)
        return
      }
      if (err && err.code === 'EISDIR') {
        next!()
        return
      }
      if (err && err.code !== 'ECONNABORTED' && err.syscall !== 'write') next!(err)
    })
  }

  download(
    path: string,
    filename?: string | SendFileOptions | SendFileCallback | null,
    options?: SendFileOptions | SendFileCallback | null,
    callback?: SendFileCallback,
  ): void {
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
    const given = opts as SendFileOptions | null
    const headers: Record<string, unknown> = { 'Content-Disposition': contentDisposition(basename((name as string | null) || path)) }
    if (given?.headers) {
      for (const key of Object.keys(given.headers)) {
        if (key.toLowerCase() !== 'content-disposition') headers[key] = given.headers[key]
      }
    }
    const sendOptions: SendFileOptions = Object.create(given)
    sendOptions.headers = headers
    const fullPath = !sendOptions.root ? resolve(path) : path
    this.sendFile(fullPath, sendOptions, done)
  }

  format(obj: Record<string, FormatHandler>): this {
    const req = this.req
    const next = req.next
    const keys = Object.keys(obj).filter((v) => v !== 'default')
    // an array in, one type (or false) out
    const key = keys.length > 0 ? (req.accepts(keys) as string | false) : false
    this.vary('Accept')
    if (key) {
      this.set('Content-Type', normalizeType(key))
      obj[key](req, this, next!)
    } else if (obj.default) {
      obj.default(req, this, next!)
    } else {
      next!(createError(406, { types: keys.map(normalizeType) }))
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
    // cookie-parser's, when it ran with a secret
    const secret = (this.req as IncomingRequest & { secret?: string }).secret
    const signed = opts.signed
    if (signed && !secret) throw new Error('cookieParser("secret") required for signed cookies')
    let val = typeof value === 'object' ? 'j:' + JSON.stringify(value) : String(value)
    if (signed) val = 's:' + sign(val, secret!)
    if (opts.maxAge != null) {
      const maxAge = opts.maxAge - 0
      if (!Number.isNaN(maxAge)) {
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

  /** `redirect(url)` or `redirect(status, url)`. */
  redirect(...args: [url: string] | [status: number, url: string]): void {
    let address = args[0] as string
    let body = ''
    let status = 302
    if (args.length === 2) {
      status = args[0]
      address = args[1]
    }
    address = this.location(address).get('Location') as string
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
    vary(asNodeResponse(this), field)
    return this
  }

  render(view: string, options?: Record<string, unknown> | RenderCallback, callback?: RenderCallback): void {
    const app = this.req.app
    let done = callback
    let opts: Record<string, unknown> = (options as Record<string, unknown>) || {}
    const req = this.req
    if (typeof options === 'function') {
      done = options
      opts = {}
    }
    opts._locals = this.locals
    done =
      done ||
      ((err: unknown, str?: string) => {
        if (err) {
          req.next!(err)
          return
        }
        this.send(str)
      })
    app.render(view, opts, done)
  }

  json(obj: unknown): this {
    const app = this.app
    const body = stringify(obj, app?.get('json replacer'), app?.get('json spaces'), app?.get('json escape'))
    if (!this[kHasKnownHeader]('content-type')) this[kSetKnownHeader]('content-type', 'Content-Type', 'application/json; charset=utf-8')
    return this.send(body)
  }

  send(body?: unknown): this {
    // what send() is given to send; anything else is refused by end() as by Node's
    let chunk = body as string | Buffer | NodeJS.ArrayBufferView | undefined
    let encoding: BufferEncoding | undefined
    const req = this.req
    switch (typeof chunk) {
      case 'string':
        if (!this[kHasKnownHeader]('content-type')) this.type('html')
        break
      case 'boolean':
      case 'number':
      case 'object':
        if (body === null) chunk = ''
        else if (ArrayBuffer.isView(chunk)) {
          if (!this[kHasKnownHeader]('content-type')) this.type('bin')
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
    const etagFn = this.app?.get('etag fn')
    const generateETag = typeof etagFn === 'function' && !this[kHasKnownHeader]('etag')
    let len: number | undefined
    if (chunk !== undefined) {
      if (Buffer.isBuffer(chunk)) len = chunk.length
      else if (!generateETag && (chunk as string | Uint8Array).length < 1000) len = Buffer.byteLength(chunk, encoding)
      else if (typeof chunk === 'string') {
        // Express makes it a Buffer here, which Node writes after a Latin-1 head
        len = Buffer.byteLength(chunk, encoding)
        this[kLatin1Head] = true
      } else {
        const view: Buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        chunk = view
        len = view.length
      }
      // Content-Length and Transfer-Encoding exclude each other (Express 5.3): an app that set the
      // latter frames the body itself
      if (!this[kHasKnownHeader]('transfer-encoding')) this[kSetKnownHeader]('content-length', 'Content-Length', len!)
    }
    const conditional = hasConditionalHeaders(req)
    if (generateETag && len !== undefined) {
      const mode = (etagFn as { [kETagMode]?: number })[kETagMode]
      const status = this.statusCode
      // The engine hashes exactly the body it sends, so only where that is the body Express
      // hashed and no freshness check needs the tag here.
      // Not when end/writeHead are wrapped: a wrapper must see the ETag header as under Express.
      if (mode && req.method !== 'HEAD' && status !== 204 && status !== 205 && status !== 304 && this.end === protoEnd && this.writeHead === protoWriteHead && !conditional) {
        this[kNativeETag] = mode
      } else {
        // a view was made a Buffer above, where a tag is computed
        const etag = etagFn!(chunk as string | Buffer, encoding)
        if (etag) this.setHeader('ETag', etag)
      }
    }
    if (conditional && req.fresh) this.statusCode = 304
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

type SendError = Error & { code?: string; syscall?: string }
export type SendFileCallback = (err?: SendError) => void
export interface SendFileOptions {
  root?: string
  headers?: Record<string, unknown>
  dotfiles?: 'allow' | 'deny' | 'ignore'
  maxAge?: string | number
  lastModified?: boolean
  cacheControl?: boolean
  immutable?: boolean
  acceptRanges?: boolean
  etag?: boolean
  [option: string]: unknown
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
  [option: string]: unknown
}

/** Express's utils.normalizeType(type).value: an extension or a full type (parameters dropped), to a media type. */
function normalizeType(type: string): string {
  if (type.indexOf('/') === -1) return mime.lookup(type) || 'application/octet-stream'
  const semi = type.indexOf(';')
  return (semi === -1 ? type : type.slice(0, semi)).trim()
}

/** Express's sendfile(): pipes a send stream into res and reports the outcome once. */
function sendfile(res: ServerResponse, file: send.SendStream, options: SendFileOptions, callback: SendFileCallback) {
  let done = false
  let streaming: boolean | undefined
  function onaborted() {
    if (done) return
    done = true
    callback(errors.sendAborted())
  }
  function ondirectory() {
    if (done) return
    done = true
    callback(errors.sendIsDirectory())
  }
  function onerror(err: SendError) {
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
  function onfinish(err: SendError | null) {
    if (err && err.code === 'ECONNRESET') {
      onaborted()
      return
    }
    if (err) {
      onerror(err)
      return
    }
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
  onFinished(asNodeResponse(res), onfinish)
  if (options.headers) {
    file.on('headers', (r: ServerResponse) => {
      const obj = options.headers!
      for (const k of Object.keys(obj)) r.setHeader(k, obj[k] as OutValue)
    })
  }
  file.pipe(asNodeResponse(res))
}


/**
 * Whether the request may carry If-None-Match or If-Modified-Since, so that Express's `req.fresh`
 * must be asked. The engine's request answers from its header string (one search for `if-` in
 * the common case), or from its headers object once the app read or replaced it.
 */
function hasConditionalHeaders(req: IncomingRequest): boolean {
  const headers = req[kHeaders]
  if (headers !== undefined) return headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined
  const raw = req[kRawHeaders]
  if (typeof raw === 'string' && !raw.startsWith('if-') && !raw.includes('\nif-')) return false
  return req.hasRawHeader('if-none-match') || req.hasRawHeader('if-modified-since')
}

// content-type 2 (Express 5.3's): parameters keep their order and a malformed one is skipped
// rather than thrown on
function setCharset(type: string, charset: string): string {
  const parsed = parseContentType(type)
  parsed.parameters.charset = charset
  return formatContentType(parsed)
}

export function stringify(value: unknown, replacer?: JsonReplacer, spaces?: string | number, htmlSafe?: boolean): string {
  let json = replacer || spaces ? JSON.stringify(value, replacer, spaces) : JSON.stringify(value)
  if (htmlSafe && typeof json === 'string') {
    json = json.replace(/[<>&]/g, (c) =>
      c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026',
    )
  }
  return json as string
}
