// Express 5's `req` (`express.request`): the members Express adds over Node's IncomingMessage
// surface (lib/engine/incoming-message.ts), and parseUrl, the one reading of `req.url` (target.ts)
// that `req.path`, `req.query`, the router and every parseurl user share.
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import accepts from 'accepts'
import proxyaddr from 'proxy-addr'
import parseRange from 'range-parser'
import typeis from 'type-is'
import { EngineIncomingMessage, type HeaderValue } from './engine/incoming-message'
import { kParsedOriginalUrl, kParsedUrl } from './symbols'
import { readTarget, type TargetReading } from './target'
import type { AppContext, NextFunction, Params } from './types'

/** The one reading of `req.url` (see target.ts), kept until req.url changes. */
export function parseUrl(req: { url: string; [kParsedUrl]?: TargetReading }): TargetReading {
  const url = req.url
  const parsed = req[kParsedUrl]
  if (parsed !== undefined && parsed._raw === url) return parsed
  return (req[kParsedUrl] = readTarget(url))
}

/** What `req.fresh` reads of the response. */
interface ResponseFacts {
  statusCode: number
  get(field: string): unknown
}

/**
 * The request as the header-reading packages (accepts, type-is, proxy-addr) take it: they read
 * only `headers` (and proxy-addr `socket.remoteAddress`), which the engine's request has.
 */
function asNodeRequest(req: EngineIncomingMessage): IncomingMessage {
  return req as unknown as IncomingMessage
}

type Negotiate = (...offers: Array<string | string[]>) => string | string[] | false

/** Express 5's `req`: what an app's requests are built from (`express.request`). */
export class IncomingRequest extends EngineIncomingMessage {
  params: Params = {}
  body: unknown = undefined
  baseUrl = ''
  // Set by the router (`req.originalUrl || req.url`), not here: a plain (req, res) listener's
  // request has none, as Node's, and parseurl.original() then reads req.url as rewritten.
  originalUrl: string = undefined as unknown as string
  /** The Route being dispatched (lib/router/route.ts). */
  route: unknown = undefined
  app!: AppContext
  res!: ResponseFacts
  next?: NextFunction;
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

  get query(): Record<string, unknown> {
    const parse = this.app?.get('query parser fn')
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

  // Content negotiation (the accepts package, as Express): the arguments go through as given,
  // a list or one array.
  accepts(...types: Array<string | string[]>): string | string[] | false {
    const accept = accepts(asNodeRequest(this))
    return (accept.types as Negotiate)(...types)
  }

  acceptsEncodings(...encodings: Array<string | string[]>): string | string[] | false {
    const accept = accepts(asNodeRequest(this))
    return (accept.encodings as Negotiate)(...encodings)
  }

  acceptsCharsets(...charsets: Array<string | string[]>): string | string[] | false {
    const accept = accepts(asNodeRequest(this))
    return (accept.charsets as Negotiate)(...charsets)
  }

  acceptsLanguages(...languages: Array<string | string[]>): string | string[] | false {
    const accept = accepts(asNodeRequest(this))
    return (accept.languages as Negotiate)(...languages)
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
    return typeis(asNodeRequest(this), arr)
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
    return proxyaddr(asNodeRequest(this), this.app.get('trust proxy fn'))
  }

  get ips(): string[] {
    const addrs = proxyaddr.all(asNodeRequest(this), this.app.get('trust proxy fn'))
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

// fresh ships no types
const freshCheck = require('fresh') as (
  reqHeaders: Record<string, HeaderValue>,
  resHeaders: { etag: unknown; 'last-modified': unknown },
) => boolean
