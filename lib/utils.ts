// Small helpers shared by the application and the request, as Express's lib/utils.js.
import proxyaddr from 'proxy-addr'

export type TrustFn = (addr: string | undefined, i: number) => boolean

/**
 * Compiles the 'trust proxy' setting into the 'trust proxy fn' that req.ip, req.ips, req.protocol and
 * req.host consult, exactly as Express's utils.compileTrust: a function is used as is, `true` trusts
 * every hop, a number trusts that many hops, a string is a comma-separated list of addresses, CIDRs
 * or the names 'loopback', 'linklocal', 'uniquelocal' (an array of those works too).
 */
export function compileTrust(value: any): TrustFn {
  if (typeof value === 'function') return value
  if (value === true) return function trustAll() {
    return true
  }
  if (typeof value === 'number') return function trustHops(_addr, i) {
    return i < value
  }
  if (typeof value === 'string') value = value.split(',').map((v) => v.trim())
  return proxyaddr.compile(value || []) as TrustFn
}
