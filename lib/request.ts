// `req`: a Node Readable with IncomingMessage's surface, plus Express 5's request members.
// Headers arrive from the engine as one latin1 string and become an object only when read.
import { Readable } from 'node:stream'
import { native } from './binding'
import { EngineSocket } from './engine/socket'
import { kBody, kBodyChunk, kBodyEnd, kHeaders, kId, kOnAbort, kParsedUrl, kRawHeaders } from './symbols'
import type { Application } from './application'
import type { ServerResponse } from './response'

// Node keeps the first value of these and drops repeats.
const SINGLE_VALUED = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
])

type HeaderValue = string | string[] | undefined

export interface ParsedUrl {
  raw: string
  pathname: string
  search: string | null
  query: string | null
}

export function parseUrl(req: IncomingRequest): ParsedUrl {
  const url = req.url
  let parsed = req[kParsedUrl]
  if (parsed !== undefined && parsed.raw === url) return parsed
  const q = url.indexOf('?')
  let pathname = q === -1 ? url : url.slice(0, q)
  // absolute-form targets (proxies): the path is what routes see
  if (pathname.charCodeAt(0) !== 47 /* / */) {
    const scheme = pathname.indexOf('://')
    if (scheme !== -1) {
      const slash = pathname.indexOf('/', scheme + 3)
      pathname = slash === -1 ? '/' : pathname.slice(slash)
    }
  }
  parsed = {
    raw: url,
    pathname,
    search: q === -1 ? null : url.slice(q),
    query: q === -1 ? null : url.slice(q + 1),
  }
  req[kParsedUrl] = parsed
  return parsed
}

export class IncomingRequest extends Readable {
  method: string
  url: string
  readonly httpVersionMajor = 1
  readonly httpVersionMinor: number
  readonly httpVersion: string
  socket: EngineSocket
  complete = false
  aborted = false
  readonly upgrade = false
  readonly rawTrailers: string[] = []
  readonly trailers: Record<string, string> = {}

  // Express members
  params: Record<string, any> = {}
  body: any = undefined
  baseUrl = ''
  originalUrl: string
  route: any = undefined
  app!: Application
  res!: ServerResponse
  next?: (err?: any) => void;

  [kId]: number;
  [kRawHeaders]: string;
  [kHeaders]: Record<string, HeaderValue> | undefined = undefined;
  [kBody]: boolean | Buffer;
  [kParsedUrl]: ParsedUrl | undefined = undefined

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
    this.originalUrl = url
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

  get rawHeaders(): string[] {
    const raw = this[kRawHeaders]
    return raw.length === 0 ? [] : raw.split('\n')
  }

  get headersDistinct(): Record<string, string[]> {
    const out: Record<string, string[]> = Object.create(null)
    const parts = this.rawHeaders
    for (let i = 0; i + 1 < parts.length; i += 2) (out[parts[i]] ??= []).push(parts[i + 1])
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

  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms, callback)
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

  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.complete && this[kBody] === true) this.socket.destroy()
    callback(error)
  }

  [kBodyChunk](chunk: Buffer) {
    this.push(chunk)
  }

  [kBodyEnd]() {
    this.complete = true
    this.push(null)
  }

  [kOnAbort]() {
    if (this.aborted) return
    if (!this.complete) {
      this.aborted = true
      this.emit('aborted')
      const error = Object.assign(new Error('aborted'), { code: 'ECONNRESET' })
      if (this[kBody] === true && this.listenerCount('error') > 0) this.destroy(error)
      else this.destroy()
    } else {
      this.destroy()
    }
  }

  // ---- Express 5 request members ----

  get(name: string): HeaderValue {
    if (typeof name !== 'string') throw new TypeError('name argument is required to req.get')
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
    if (!parse) return {}
    return parse(parseUrl(this).query ?? '')
  }

  get path(): string {
    return parseUrl(this).pathname
  }

  get xhr(): boolean {
    const value = this.get('X-Requested-With')
    return typeof value === 'string' && value.toLowerCase() === 'xmlhttprequest'
  }
}

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
