// Node's http.Server options (`http.createServer(options)` and the server's properties of the same
// names) that the engine has no setting for: each is honoured as Node's default behaviour, and a
// value the engine cannot honour is refused with XYP_ERR_NOT_SUPPORTED rather than ignored. The
// README lists them. headersTimeout, requestTimeout, keepAliveTimeout, maxHeaderSize,
// maxHeadersCount, maxRequestsPerSocket, maxConnections and timeout are the server's own settings,
// honoured at any value (lib/engine/server.ts).
import http from 'node:http'
import { errors } from '../errors'
import { defaultHighWaterMark } from './node-behaviour'

interface Rule {
  /** What the server reports until a value is set: Node's default, which the engine does. */
  readonly initial: unknown
  /** Whether the engine behaves as Node does with `value`. */
  honours(value: unknown): boolean
  /** What the engine does, for the refusal. */
  readonly engine: string
  /** A server property in Node (else only a createServer() option). */
  readonly property: boolean
}

function only(initial: unknown, engine: string, property = true): Rule {
  return { initial, honours: (value) => value === initial, engine, property }
}

function unset(engine: string, property = true, alsoHonoured?: unknown): Rule {
  return { initial: undefined, honours: (value) => value === undefined || value === alsoHonoured, engine, property }
}

function anyDelay(initial: number, engine: string): Rule {
  return { initial, honours: (value) => typeof value === 'number' && value >= 0, engine, property: true }
}

export const OPTION_RULES: Readonly<Record<string, Rule>> = {
  // Node's defaults, which the engine always does.
  highWaterMark: only(defaultHighWaterMark, "the engine's backpressure threshold is the running Node's default"),
  requireHostHeader: only(true, 'the engine refuses an HTTP/1.1 request without Host'),
  rejectNonStandardBodyWrites: only(false, 'the engine drops a body written to a HEAD, 204 or 304 response'),
  noDelay: only(true, "the engine turns Nagle's algorithm off on every connection"),
  keepAlive: only(false, 'the engine sends no TCP keep-alive probes'),
  keepAliveTimeoutBuffer: only(1000, 'the engine closes an idle connection 1 s after keepAliveTimeout'),
  joinDuplicateHeaders: unset('the engine keeps the first of repeated single-valued headers', true, false),
  insecureHTTPParser: unset("the engine's parser is strict", true, false),
  httpValidation: unset("the engine's parser is strict"),
  shouldUpgradeCallback: unset("the engine hands an Upgrade request over when 'upgrade' has listeners"),
  optimizeEmptyRequests: unset('the engine builds every request the same way', false, false),
  uniqueHeaders: unset('the engine sends response headers as set', false),
  IncomingMessage: unset("the engine builds requests from its own class (extend app.request instead)", false, http.IncomingMessage),
  ServerResponse: unset("the engine builds responses from its own class (extend app.response instead)", false, http.ServerResponse),

  // Moot while the option they refine is at its default, so any value is honoured.
  keepAliveInitialDelay: anyDelay(0, 'only used with keepAlive'),
  // The engine enforces each timeout on its own timer, as if checking all the time.
  connectionsCheckingInterval: anyDelay(30_000, 'the engine checks each connection on its own timer'),
}

/** `value`, if the engine honours it for `name`; else XYP_ERR_NOT_SUPPORTED. */
export function checkOption(name: string, value: unknown): unknown {
  const rule = OPTION_RULES[name]
  if (rule !== undefined && !rule.honours(value)) {
    const shown = typeof value === 'function' ? value.name || 'a function' : JSON.stringify(value) ?? String(value)
    throw errors.notSupported(`The server option ${name} = ${shown} (${rule.engine})`)
  }
  return value
}
