// Node's IncomingMessage surface, as the engine gives it to a plain `(req, res)` listener: a
// Readable whose headers arrive from the engine as one latin1 string and become an object only
// when read, and whose stream machinery is set up only when something uses it (most requests
// are answered without their body or events being touched).
import { Readable } from 'node:stream'
import { native } from '../binding'
import { errors } from '../errors'
import { kBody, kBodyChunk, kBodyEnd, kCandidates, kHeaders, kId, kOnAbort, kParsedUrl, kPrelude, kPreludePlan, kPreludeText, kRawHeaderList, kRawHeaders } from '../symbols'
import type { TargetReading } from '../target'
import { settle } from './completions'
import { cleanDestroyCompletesAtOnce, unreadRequestEndsAtFinish } from './node-behaviour'
import type { EngineSocket } from './socket'

// Node keeps the first value of these and drops repeats.
const SINGLE_VALUED = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
])

export type HeaderValue = string | string[] | undefined

/** Set by any read of the body (the app's, a pipe's, 'data' listeners'), as Node's `_consuming`. */
const kConsuming = Symbol('xypriss.consuming')
const kTrailers = Symbol('xypriss.trailers')
const kReadableState = Symbol('xypriss.readableState')

/**
 * Node's IncomingMessage surface only: what a plain `(req, res)` listener gets. Middleware probe
 * for Express (morgan reads `req.ip || req._remoteAddress`), so Express's members are not here.
 *
 * A Readable (its prototype is Readable.prototype) whose Readable constructor runs on first use of
 * the stream: reading `_readableState`, which every stream method and event listener does, sets
 * the stream up. Until then the request is a plain object with an empty event list.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the Readable members come from the prototype (see below)
export class EngineIncomingMessage {
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
  // EventEmitter's own fields, as its constructor would leave them with no listener yet
  _events: Record<string | symbol, unknown> | undefined = undefined
  _eventsCount = 0
  _maxListeners: number | undefined = undefined;

  [kId]: number;
  [kRawHeaders]: string;
  [kHeaders]: Record<string, HeaderValue> | undefined = undefined;
  [kRawHeaderList]: string[] | undefined = undefined;
  [kBody]: boolean | Buffer;
  [kParsedUrl]: TargetReading | undefined = undefined;
  [kCandidates]: number[] | undefined = undefined;
  [kConsuming] = false;
  [kTrailers]: [raw: string[], trailers: Record<string, string>] | undefined = undefined;
  [kReadableState]: ReadableState | undefined = undefined;
  /** The native prelude's plan, until the app's router skipped the layers it ran (see ./prelude.ts). */
  [kPrelude]: object | undefined = undefined;
  /** The same, kept for `req.rateLimit`. */
  [kPreludePlan]: object | undefined = undefined;
  /** What the prelude decided for this request. */
  [kPreludeText]: string | undefined = undefined

  constructor(
    id: number,
    socket: EngineSocket,
    method: string,
    url: string,
    httpMinor: number,
    rawHeaders: string,
    body: boolean | Buffer,
  ) {
    this[kId] = id
    this.socket = socket
    this.method = method
    this.url = url
    this.httpVersionMinor = httpMinor
    this.httpVersion = httpMinor === 0 ? '1.0' : '1.1'
    this[kRawHeaders] = rawHeaders
    this[kBody] = body
  }

  /** The stream's state: made (by Readable's own constructor) the first time anything asks. */
  get _readableState(): ReadableState {
    const state = this[kReadableState]
    if (state !== undefined) return state
    Readable.call(this as unknown as Readable)
    return this[kReadableState]!
  }

  set _readableState(state: ReadableState) {
    this[kReadableState] = state
  }

  // A server's request has no trailers here (the engine does not pass them on): made when read,
  // as Node makes its own
  get rawTrailers(): string[] {
    return (this[kTrailers] ??= [[], {}])[0]
  }

  set rawTrailers(value: string[]) {
    ;(this[kTrailers] ??= [[], {}])[0] = value
  }

  get trailers(): Record<string, string> {
    return (this[kTrailers] ??= [[], {}])[1]
  }

  set trailers(value: Record<string, string>) {
    ;(this[kTrailers] ??= [[], {}])[1] = value
  }

  get connection(): EngineSocket {
    return this.socket
  }

  get headers(): Record<string, HeaderValue> {
    let headers = this[kHeaders]
    if (headers === undefined) {
      headers = Object.create(null) as Record<string, HeaderValue>
      // `name\nvalue\n...`: names and values never hold a line feed
      const raw = this[kRawHeaders]
      const length = raw.length
      let at = 0
      while (at < length) {
        const colon = raw.indexOf('\n', at)
        if (colon === -1) break
        const end = raw.indexOf('\n', colon + 1)
        const next = end === -1 ? length : end
        addHeader(headers, raw.slice(at, colon), raw.slice(colon + 1, next))
        at = next + 1
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
      settle()
      const raw = native.rawHeaders(this[kId]) ?? this[kRawHeaders]
      list = raw.length === 0 ? [] : raw.split('\n')
      this[kRawHeaderList] = list
    }
    return list
  }

  set rawHeaders(value: string[]) {
    this[kRawHeaderList] = value
  }

  /** From the same lines as `headers` (Node 20 cuts both to maxHeadersCount, not rawHeaders). */
  get headersDistinct(): Record<string, string[]> {
    const out: Record<string, string[]> = Object.create(null)
    const raw = this[kRawHeaders]
    const parts = raw.length === 0 ? [] : raw.split('\n')
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

  /** As Node: the callback listens on the request, the timer is the socket's. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.on('timeout', callback)
    this.socket.setTimeout(ms)
    return this
  }

  read(size?: number): unknown {
    this[kConsuming] = true
    return Readable.prototype.read.call(this, size)
  }

  _read(): void {
    const body = this[kBody]
    if (body === true) {
      settle()
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
    const outcome = this.listenerCount('error') === 0 ? null : error
    // as the running Node: a clean destroy completes now (Node 24) or on the next tick
    if (cleanDestroyCompletesAtOnce || this.aborted || error) callback(outcome)
    else process.nextTick(callback, outcome)
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
    this.destroy(errors.aborted())
  }
}

/** Node's ReadableState (not in the public types). */
type ReadableState = object

// The Readable surface, by prototype: `instanceof Readable` holds and every stream method is Node's.
export interface EngineIncomingMessage extends Readable {}
Object.setPrototypeOf(EngineIncomingMessage.prototype, Readable.prototype)
Object.setPrototypeOf(EngineIncomingMessage, Readable)

/**
 * As Node's server once the response finished: a request nobody read is read to its end and
 * dropped, so it ends and closes as a stream does (Node 24: at once when nothing is left to read).
 * False when nothing was done: it was read, or the engine still holds part of its body (which the
 * engine drops itself).
 */
export function dumpUnread(req: EngineIncomingMessage): boolean {
  const state = (req as unknown as { _readableState: { resumeScheduled: boolean } })._readableState
  if (req[kConsuming] || req.destroyed || state.resumeScheduled) return false
  const body = req[kBody]
  if (body === true && !req.complete) return false
  req.removeAllListeners('data')
  if (unreadRequestEndsAtFinish && body === false && req.readableLength === 0) {
    // all there is was received and none of it is left: Node's message has ended already
    req.complete = true
    req.push(null)
    req.read(0)
  } else {
    req.resume()
  }
  return true
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
