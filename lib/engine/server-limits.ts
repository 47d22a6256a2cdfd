// Node's server limits and timeouts (headersTimeout, requestTimeout, keepAliveTimeout,
// maxHeaderSize, maxHeadersCount, maxRequestsPerSocket, maxConnections) as Node's server holds
// them, and as the engine takes them.
import http from 'node:http'
import { refusesExtraHeaderLines, zeroMaxConnectionsDropsAll } from './node-behaviour'

/** The settings as Node's server holds them. */
export interface Settings {
  headersTimeout: number
  requestTimeout: number
  keepAliveTimeout: number
  maxHeaderSize: number | undefined
  maxHeadersCount: number | null
  maxRequestsPerSocket: number
  maxConnections: number | undefined
}

export const SETTING_NAMES = [
  'headersTimeout',
  'requestTimeout',
  'keepAliveTimeout',
  'maxHeaderSize',
  'maxHeadersCount',
  'maxRequestsPerSocket',
  'maxConnections',
] as const satisfies ReadonlyArray<keyof Settings>

/** createServer() options Node's own server validates and stores. */
export const NODE_VALIDATED = ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize', 'connectionsCheckingInterval'] as const

/** A whole number of ms (or a count) the engine takes: what Node makes of the property's value. */
function whole(value: unknown): number {
  const n = Math.floor(Number(value))
  return Number.isFinite(n) && n > 0 ? Math.min(n, 0xffff_ffff) : 0
}

/** The settings as the engine takes them, each read the way Node's server reads it. */
export function engineLimits(s: Settings) {
  // Node's parser: `maxHeaderPairs = maxHeadersCount << 1` when it is a number (else 2000), and
  // no limit when that is not positive.
  const pairs = typeof s.maxHeadersCount === 'number' ? s.maxHeadersCount << 1 : 2000
  const max = s.maxConnections
  const noConnectionLimit = max === undefined || max === null || Number.isNaN(Number(max)) || (!zeroMaxConnectionsDropsAll && !max)
  return {
    headersTimeout: whole(s.headersTimeout),
    requestTimeout: whole(s.requestTimeout),
    keepAliveTimeout: whole(s.keepAliveTimeout),
    // 0 or unset: the process's (`--max-http-header-size`), as Node's parser takes it.
    maxHeaderSize: whole(s.maxHeaderSize) || http.maxHeaderSize,
    maxHeadersCount: pairs > 0 ? Math.ceil(pairs / 2) : 0,
    refuseExtraHeaders: refusesExtraHeaderLines,
    maxRequestsPerSocket: whole(s.maxRequestsPerSocket),
    maxConnections: noConnectionLimit ? undefined : Math.max(0, Math.min(Math.ceil(Number(max)), 0xffff_ffff)),
  }
}
