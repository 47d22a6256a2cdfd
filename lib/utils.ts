// Settings compiled into the functions requests and responses call, as Express's lib/utils.js:
// 'trust proxy', 'etag', 'query parser'.
import { parse as parseSimpleQuery } from 'node:querystring'
import etag from 'etag'
import proxyaddr from 'proxy-addr'
import qs from 'qs'
import { kETagMode } from './symbols'
import type { ETagFn, QueryParser, TrustFn } from './types'

export type { TrustFn }

/**
 * Compiles the 'trust proxy' setting into the 'trust proxy fn' that req.ip, req.ips, req.protocol and
 * req.host consult, exactly as Express's utils.compileTrust: a function is used as is, `true` trusts
 * every hop, a number trusts that many hops, a string is a comma-separated list of addresses, CIDRs
 * or the names 'loopback', 'linklocal', 'uniquelocal' (an array of those works too).
 */
export function compileTrust(value: unknown): TrustFn {
  if (typeof value === 'function') return value as TrustFn
  if (value === true) return function trustAll() {
    return true
  }
  if (typeof value === 'number') {
    const hops = value
    return function trustHops(_addr, i) {
      return i < hops
    }
  }
  if (typeof value === 'string') value = value.split(',').map((v) => v.trim())
  return proxyaddr.compile((value || []) as string[]) as TrustFn
}

/** The 'etag' setting: a function as is, `true` / 'weak' / 'strong' Express's generators, `false` none. */
export function compileETag(value: unknown): ETagFn | undefined {
  if (typeof value === 'function') return value as ETagFn
  if (value === true || value === 'weak') return createETagGenerator(true)
  if (value === false) return undefined
  if (value === 'strong') return createETagGenerator(false)
  throw new TypeError('unknown value for etag function: ' + value)
}

function createETagGenerator(weak: boolean): ETagFn {
  const generateETag = function generateETag(body: Buffer | string, encoding?: BufferEncoding) {
    const buf = !Buffer.isBuffer(body) ? Buffer.from(body, encoding) : body
    return etag(buf, { weak })
  }
  // The same tag, byte for byte, can be computed by the engine off the JS thread.
  return Object.assign(generateETag, { [kETagMode]: weak ? 1 : 2 })
}

/** The 'query parser' setting: a function as is, 'simple' (or `true`) Node's, 'extended' qs, `false` none. */
export function compileQueryParser(value: unknown): QueryParser | undefined {
  if (typeof value === 'function') return value as QueryParser
  if (value === true || value === 'simple') return parseSimpleQuery
  if (value === false) return undefined
  if (value === 'extended') return (str: string) => qs.parse(str, { allowPrototypes: true })
  throw new TypeError('unknown value for query parser function: ' + value)
}
