// One reading of a request target: the engine's rule (crates/xsys-http/src/target.rs) made in
// JS, for the router, req.path, req.query and, through req._parsedUrl, every user of parseurl
// (serve-static, finalhandler). The tests hold it against the engine's reading byte for byte.
// Where it differs from Express's (which hands a target with a `#` to url.parse), see
// docs/request-target.md.
import * as nodeUrl from 'node:url'

// Node's legacy Url class: parseurl takes a cached reading only when it is an instance of it.
const LegacyUrl = (nodeUrl as unknown as { Url: { prototype: object } }).Url

// url.parse gives these schemes a `/` path when they name a host and have no path.
const SLASHED = new Set(['http', 'https', 'ftp', 'gopher', 'file', 'ws', 'wss'])

/** A reading, shaped as parseurl's (a `Url` with `_raw`, the URL it was read from). */
export class TargetReading {
  _raw: string
  href: string
  pathname: string | null
  search: string | null
  query: string | null
  hash: string | null
  path: string | null
  // url.parse's authority fields: null (from the prototype) but on absolute-form targets
  declare protocol: string | null
  declare slashes: boolean | null
  declare auth: string | null
  declare host: string | null
  declare port: string | null
  declare hostname: string | null

  constructor(raw: string, pathname: string | null, search: string | null, query: string | null, hash: string | null) {
    this._raw = raw
    this.href = raw
    this.pathname = pathname
    this.search = search
    this.query = query
    this.hash = hash
    this.path = pathname === null && search === null ? null : (pathname ?? '') + (search ?? '')
  }
}
Object.setPrototypeOf(TargetReading.prototype, LegacyUrl.prototype)
for (const name of ['protocol', 'slashes', 'auth', 'host', 'port', 'hostname']) {
  Object.defineProperty(TargetReading.prototype, name, { value: null, writable: true, configurable: true })
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** The index of `://` after a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`), or -1. */
function schemeEnd(url: string): number {
  if (!isAlpha(url.charCodeAt(0))) return -1
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (isAlpha(c) || (c >= 48 && c <= 57) || c === 43 /* + */ || c === 45 /* - */ || c === 46 /* . */) continue
    return c === 58 /* : */ && url.charCodeAt(i + 1) === 47 && url.charCodeAt(i + 2) === 47 ? i : -1
  }
  return -1
}

/** The host and port of an authority, once `user@` is taken off, as url.parse splits them. */
function hostAndPort(hostPort: string): [host: string, port: string | null] {
  const colon = hostPort.lastIndexOf(':')
  if (colon !== -1 && /^[0-9]*$/.test(hostPort.slice(colon + 1))) {
    return [hostPort.slice(0, colon), colon + 1 < hostPort.length ? hostPort.slice(colon + 1) : null]
  }
  return [hostPort, null]
}

/**
 * Reads `url` (a target as sent or a req.url as rewritten): the path runs to the first `?` or
 * `#`, the query from that `?` to a `#`; an absolute-form target's path follows its authority
 * (up to the first `/`, `?` or `#`). Nothing is rewritten: the path is a slice of `url`, or `/`
 * for an absolute-form target that names a host and has no path.
 */
export function readTarget(url: string): TargetReading {
  let start = 0
  let scheme = -1
  if (url.charCodeAt(0) !== 47 /* / */) {
    scheme = schemeEnd(url)
    if (scheme !== -1) {
      start = scheme + 3
      while (start < url.length) {
        const c = url.charCodeAt(start)
        if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break
        start++
      }
    }
  }
  let end = url.indexOf('#', start)
  const hash = end === -1 ? null : url.slice(end)
  if (end === -1) end = url.length
  let q = url.indexOf('?', start)
  if (q >= end) q = -1
  const pathEnd = q === -1 ? end : q
  const reading = new TargetReading(
    url,
    pathEnd > start ? url.slice(start, pathEnd) : null,
    q === -1 ? null : url.slice(q, end),
    q === -1 ? null : url.slice(q + 1, end),
    hash,
  )
  if (scheme !== -1) addAuthority(reading, url, scheme, start)
  return reading
}

/** url.parse's fields for an absolute-form target (url.format() of a reading puts them back). */
function addAuthority(reading: TargetReading, url: string, scheme: number, authorityEnd: number): void {
  const protocol = url.slice(0, scheme).toLowerCase()
  const authority = url.slice(scheme + 3, authorityEnd)
  const at = authority.lastIndexOf('@')
  const [host, port] = hostAndPort(authority.slice(at + 1))
  reading.protocol = protocol + ':'
  reading.slashes = true
  if (at !== -1) {
    const auth = authority.slice(0, at)
    try {
      reading.auth = decodeURIComponent(auth)
    } catch {
      reading.auth = auth
    }
  }
  const hostname = host.toLowerCase()
  reading.hostname = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  reading.port = port
  reading.host = port === null ? hostname : hostname + ':' + port
  if (reading.pathname === null && hostname !== '' && SLASHED.has(protocol)) {
    reading.pathname = '/'
    reading.path = '/' + (reading.search ?? '')
  }
}
