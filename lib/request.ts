// `req`: a Node Readable with IncomingMessage's surface, plus Express 5's request members.
// Headers arrive from the engine as one latin1 string and become an object only when read.
import { isIP } from 'node:net'
import { Readable } from 'node:stream'
import accepts from 'accepts'
import proxyaddr from 'proxy-addr'
import parseRange from 'range-parser'
import typeis from 'type-is'
import { native } from './binding'
import { EngineSocket } from './engine/socket'
import { readTarget, type TargetReading } from './target'
import { kBody, kBodyChunk, kBodyEnd, kCandidates, kHeaders, kId, kOnAbort, kParsedOriginalUrl, kParsedUrl, kRawHeaderList, kRawHeaders } from './symbols'
import type { Application } from './application'
import type { ServerResponse } from './response'

// Node keeps the first value of these and drops repeats.
const SINGLE_VALUED = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
])

type HeaderValue = string | string[] | undefined

/** The one reading of `req.url` (see target.ts), kept until req.url changes. */
export function parseUrl(req: { url: string; [kParsedUrl]?: TargetReading }): TargetReading {
  const url = req.url
  const parsed = req[kParsedUrl]
  if (parsed !== undefined && parsed._raw === url) return parsed
  return (req[kParsedUrl] = readTarget(url))
}

/**
 * Node's IncomingMessage surface only: what a plain `(req, res)` listener gets. Middleware probe
 * for Express (morgan reads `req.ip || req._remoteAddress`), so Express's members are not here.
 */
export class EngineIncomingMessage extends Readable {
  method: string
  url: string
  readonly httpVersionMajor = 1
  readonly httpVersionMinor: number
  readonly httpVersion: string
  socket: EngineSocket
  complete = false
  aborted = false
  // Only a client's response message has them; a server's request carries null, as in Node.
  statusCode: number | null = null
  statusMessage: string | null = null
  readonly upgrade = false
  readonly rawTrailers: string[] = []
  readonly trailers: Record<string, string> = {};

  [kId]: number;
  [kRawHeaders]: string;
  [kHeaders]: Record<string, HeaderValue> | undefined = undefined;
  [kRawHeaderList]: string[] | undefined = undefined;
  [kBody]: boolean | Buffer;
  [kParsedUrl]: TargetReading | undefined = undefined;
  [kCandidates]: number[] | undefined = undefined

  constructor(
    id: number,
    socket: EngineSocket,
    method: string,
    url: string,
    httpMinor: number,
    rawHeaders: string,
    body: boolean | Buffer,
  ) {
    super()
    this[kId] = id
    this.socket = socket
    this.method = method
    this.url = url
    this.httpVersionMinor = httpMinor
    this.httpVersion = httpMinor === 0 ? '1.0' : '1.1'
    this[kRawHeaders] = rawHeaders
    this[kBody] = body
  }

  get connection(): EngineSocket {
    return this.socket
  }

  get headers(): Record<string, HeaderValue> {
    let headers = this[kHeaders]
    if (headers === undefined) {
      headers = Object.create(null) as Record<string, HeaderValue>
      const raw = this[kRawHeaders]
      if (raw.length !== 0) {
        const parts = raw.split('\n')
        for (let i = 0; i + 1 < parts.length; i += 2) addHeader(headers, parts[i], parts[i + 1])
      }
      this[kHeaders] = headers
    }
    return headers
  }

  set headers(value: Record<string, HeaderValue>) {
    this[kHeaders] = value
  }

  /** As sent: names in their case, in wire order (asked of the engine on first use). */
  get rawHeaders(): string[] {
    let list = this[kRawHeaderList]
    if (list === undefined) {
      const raw = native.rawHeaders(this[kId]) ?? this[kRawHeaders]
      list = raw.length === 0 ? [] : raw.split('\n')
      this[kRawHeaderList] = list
    }
    return list
  }

  set rawHeaders(value: string[]) {
    this[kRawHeaderList] = value
  }

  get headersDistinct(): Record<string, string[]> {
    const out: Record<string, string[]> = Object.create(null)
    const parts = this.rawHeaders
    for (let i = 0; i + 1 < parts.length; i += 2) (out[parts[i].toLowerCase()] ??= []).push(parts[i + 1])
    return out
  }

  get trailersDistinct(): Record<string, string[]> {
    return {}
  }

  /** Cheap test for a header name without building the headers object. */
  hasRawHeader(lowercaseName: string): boolean {
    const raw = this[kRawHeaders]
    if (raw.length === 0) return false
    return raw.startsWith(lowercaseName + '\n') || raw.includes('\n' + lowercaseName + '\n')
  }

  /** As Node: the callback listens on the request, the timer is the socket's. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.on('timeout', callback)
    this.socket.setTimeout(ms)
    return this
  }

  _read(): void {
    const body = this[kBody]
    if (body === true) {
      native.readBody(this[kId])
      return
    }
    if (body !== false) {
      this[kBody] = false
      this.push(body)
    }
    this.complete = true
    this.push(null)
  }

  /**
   * As Node's IncomingMessage: destroying a request whose body was not received and read to its
   * end aborts it ('aborted') and closes the connection under it (connect-timeout's req.destroy()
   * leaves the client an ECONNRESET); the error reaches 'error' listeners only.
   */
  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.readableEnded || !this.complete) {
      this.aborted = true
      this.emit('aborted')
    }
    if (this.aborted && !this.socket.destroyed) this.socket.destroy()
    callback(this.listenerCount('error') === 0 ? null : error)
  }

  [kBodyChunk](chunk: Buffer) {
    this.push(chunk)
  }

  [kBodyEnd]() {
    this.complete = true
    this.push(null)
  }

  /**
   * The connection closed before the response finished: as Node's abortIncoming, the request is
   * destroyed with an 'aborted' ECONNRESET error (see _destroy for what follows).
   */
  [kOnAbort]() {
    if (this.destroyed) return
    // as in Node, the socket is closed by the time the request hears of it
    this.socket.markClosed()
    this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
  }
}

/** Express 5's `req`: what an app's requests are built from (`express.request`). */
export class IncomingRequest extends EngineIncomingMessage {
  params: Record<string, any> = {}
  body: any = undefined
  baseUrl = ''
  // Set by the router (`req.originalUrl || req.url`), not here: a plain (req, res) listener's
  // request has none, as Node's, and parseurl.original() then reads req.url as rewritten.
  originalUrl: string = undefined as unknown as string
  route: any = undefined
  app!: Application
  res!: ServerResponse
  next?: (err?: any) => void;
  [kParsedOriginalUrl]: TargetReading | undefined = undefined

  get(name: string): HeaderValue {
    if (!name) throw new TypeError('name argument is required to req.get')
    if (typeof name !== 'string') throw new TypeError('name must be a string to req.get')
    const lc = name.toLowerCase()
    const headers = this.headers
    if (lc === 'referer' || lc === 'referrer') return headers.referrer ?? headers.referer
    return headers[lc]
  }

  header(name: string): HeaderValue {
    return this.get(name)
  }

  get query(): Record<string, any> {
    const parse = this.app?.get('query parser fn') as ((s: string) => any) | undefined
    if (!parse) return Object.create(null)
    return parse(parseUrl(this).query ?? '')
  }

  get path(): string {
    return parseUrl(this).pathname as string
  }

  /**
   * parseurl's cache of its reading of req.url, answered with the one reading, so that
   * serve-static, finalhandler and any other parseurl user read the path the router reads.
   * What parseurl or anyone would store here is not kept: the one reading always answers.
   */
  get _parsedUrl(): TargetReading | undefined {
    return typeof this.url === 'string' ? parseUrl(this) : undefined
  }

  set _parsedUrl(_value: unknown) {}

  /** The same for req.originalUrl (parseurl.original). */
  get _parsedOriginalUrl(): TargetReading | undefined {
    const url = this.originalUrl
    if (typeof url !== 'string') return undefined
    const parsed = this[kParsedOriginalUrl]
    if (parsed !== undefined && parsed._raw === url) return parsed
    return (this[kParsedOriginalUrl] = readTarget(url))
  }

  set _parsedOriginalUrl(_value: unknown) {}

  get xhr(): boolean {
    const value = this.get('X-Requested-With')
    return typeof value === 'string' && value.toLowerCase() === 'xmlhttprequest'
  }

  // Content negotiation (the accepts package, as Express).
  accepts(...types: any[]): any {
    const accept = accepts(this as any)
    return (accept.types as any)(...types)
  }

  acceptsEncodings(...encodings: any[]): any {
    const accept = accepts(this as any)
    return (accept.encodings as any)(...encodings)
  }

  acceptsCharsets(...charsets: any[]): any {
    const accept = accepts(this as any)
    return (accept.charsets as any)(...charsets)
  }

  acceptsLanguages(...languages: any[]): any {
    const accept = accepts(this as any)
    return (accept.languages as any)(...languages)
  }

  /** Parses the Range header against a resource of `size` bytes (range-parser). */
  range(size: number, options?: parseRange.Options): parseRange.Result | parseRange.Ranges | undefined {
    const range = this.get('Range')
    if (!range) return undefined
    return parseRange(size, range as string, options)
  }

  /** Checks the request's Content-Type against `types` (type-is). */
  is(...types: Array<string | string[]>): string | false | null {
    const arr = Array.isArray(types[0]) ? types[0] : (types as string[])
    return typeis(this as any, arr)
  }

  get protocol(): string {
    const proto = this.socket.encrypted ? 'https' : 'http'
    const trust = this.app.get('trust proxy fn')
    if (!trust(this.socket.remoteAddress, 0)) return proto
    // X-Forwarded-Proto is normally a single value; take the first one to be safe.
    const header = (this.get('X-Forwarded-Proto') as string) || proto
    const index = header.indexOf(',')
    return index !== -1 ? header.substring(0, index).trim() : header.trim()
  }

  get secure(): boolean {
    return this.protocol === 'https'
  }

  get ip(): string {
    return proxyaddr(this as any, this.app.get('trust proxy fn'))
  }

  get ips(): string[] {
    const addrs = proxyaddr.all(this as any, this.app.get('trust proxy fn'))
    // farthest -> closest, without the socket address
    addrs.reverse().pop()
    return addrs
  }

  get subdomains(): string[] {
    const hostname = this.hostname
    if (!hostname) return []
    const offset = this.app.get('subdomain offset')
    const subdomains = !isIP(hostname) ? hostname.split('.').reverse() : [hostname]
    return subdomains.slice(offset)
  }

  get host(): string | undefined {
    const trust = this.app.get('trust proxy fn')
    let val = this.get('X-Forwarded-Host') as string | undefined
    if (!val || !trust(this.socket.remoteAddress, 0)) {
      val = this.get('Host') as string | undefined
    } else if (val.indexOf(',') !== -1) {
      // X-Forwarded-Host is normally a single value; take the first one to be safe.
      val = val.substring(0, val.indexOf(',')).trimEnd()
    }
    return val || undefined
  }

  get hostname(): string | undefined {
    const host = this.host
    if (!host) return undefined
    // IPv6 literal support
    const offset = host[0] === '[' ? host.indexOf(']') + 1 : 0
    const index = host.indexOf(':', offset)
    return index !== -1 ? host.substring(0, index) : host
  }

  get fresh(): boolean {
    const method = this.method
    const res = this.res
    const status = res.statusCode
    // GET, HEAD or QUERY for weak freshness validation only
    if (method !== 'GET' && method !== 'HEAD' && method !== 'QUERY') return false
    // 2xx or 304 as per RFC 2616 14.26
    if ((status >= 200 && status < 300) || status === 304) {
      return freshCheck(this.headers, { etag: res.get('ETag'), 'last-modified': res.get('Last-Modified') })
    }
    return false
  }

  get stale(): boolean {
    return !this.fresh
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const freshCheck = require('fresh') as (reqHeaders: any, resHeaders: any) => boolean

function addHeader(headers: Record<string, HeaderValue>, name: string, value: string) {
  const existing = headers[name]
  if (existing === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value
  } else if (name === 'set-cookie') {
    ;(existing as string[]).push(value)
  } else if (!SINGLE_VALUED.has(name)) {
    headers[name] = existing + (name === 'cookie' ? '; ' : ', ') + value
  }
}
