// A Node-compatible `http.Server` whose sockets and parsing live in the native engine.
// Events arrive in batches: one call per wake-up (a Float64Array of numbers, then strings and
// Buffers), laid out as lib/engine/batch-layout.ts says.
import { EventEmitter } from 'node:events'
import http from 'node:http'
import { native, type NativeServer } from '../binding'
import { errors } from '../errors'
import { settle } from './completions'
import { abortExchange, abortsPending, connectionLost } from './aborts'
import { EngineIncomingMessage } from './incoming-message'
import { decorateListenError, type ListenAddress, type ListenError, listenAddress, listenArguments } from './listen-arguments'
import { defaultHighWaterMark } from './node-behaviour'
import { EngineServerResponse } from './server-response'
import { kBodyChunk, kBodyEnd, kCandidates, kOnDrain, kPrelude, kPreludeNames, kPreludePlan, kPreludeText, kTakePrelude } from '../symbols'
import {
  AbortedEvent,
  BodyEndEvent,
  BodyKind,
  BodyEvent,
  ClosedEvent,
  ConnectionClosedEvent,
  ConnectionEvent,
  DrainEvent,
  METHODS,
  PreludeNoticesEvent,
  DroppedEvent,
  RequestEvent,
  TAG_COUNT,
  Tag,
} from './batch-layout'
import { noticeBits, planId, type PreludePlanInfo, ranStages } from './prelude'
import { engineLimits, NODE_VALIDATED, SETTING_NAMES, type Settings } from './server-limits'
import { checkOption, OPTION_RULES } from './server-options'
import { EngineSocket } from './socket'
import { TunnelSocket } from './tunnel'

export type RequestListener = (req: EngineIncomingMessage, res: EngineServerResponse) => void

/** `http.createServer(options)`'s options: the server's own settings, then those of server-options.ts. */
export type ServerOptions = http.ServerOptions & Record<string, unknown>

/**
 * Runs a server's handlers on worker threads (`app.listen({ workers })`, lib/engine/workers.ts):
 * the server binds the listener without serving it, and the supervisor takes it from there.
 */
export interface ThreadSupervisor {
  /** The listener is bound: start the workers, and emit 'listening' once they serve it. */
  start(listenerId: number): void
  /** The listener has closed: stop the workers, then call `done`. */
  stop(done: () => void): void
}

/** Every engine-backed server that is listening, for `engineStats()`. */
export const liveServers = new Set<HttpServer>()

// The engine holds a streaming response's unsent bytes up to the running Node's default, as Node does.
native.setHighWaterMark(defaultHighWaterMark)

export class HttpServer extends EventEmitter {
  /** Requests handed to JS handlers by this server. */
  requests = 0
  listening = false
  /** Node's server settings the engine honours, as Node's server holds them (its defaults). */
  private readonly settings: Settings = {
    headersTimeout: 60_000,
    requestTimeout: 300_000,
    keepAliveTimeout: 5_000,
    maxHeaderSize: undefined,
    maxHeadersCount: null,
    maxRequestsPerSocket: 0,
    maxConnections: undefined,
  }
  timeout = 0
  // The settings' accessors (defined below, as on Node's server: plain properties).
  declare headersTimeout: number
  declare requestTimeout: number
  declare keepAliveTimeout: number
  declare maxHeaderSize: number | undefined
  declare maxHeadersCount: number | null
  declare maxRequestsPerSocket: number
  declare maxConnections: number | undefined
  // Node's options the engine has no setting for (server-options.ts): accessors below read Node's
  // defaults and refuse values the engine cannot honour.
  declare connectionsCheckingInterval: number
  declare highWaterMark: number
  declare requireHostHeader: boolean
  declare rejectNonStandardBodyWrites: boolean
  declare noDelay: boolean
  declare keepAlive: boolean
  declare keepAliveInitialDelay: number
  /** Values set for the options of server-options.ts, each one the engine honours. */
  private readonly optionValues: Record<string, unknown> = {}
  readonly native: NativeServer = new native.NativeServer()
  /**
   * What req/res are built from: Node's surface only for a plain listener; an app's server builds
   * them on `app.request` / `app.response` (Express's members included).
   */
  requestClass: typeof EngineIncomingMessage = EngineIncomingMessage
  responseClass: typeof EngineServerResponse = EngineServerResponse
  /** The responses in progress, by request id (each knows its request). */
  private readonly exchanges = new Map<number, EngineServerResponse>()
  private readonly sockets = new Map<number, EngineSocket>()
  /** Connections handed to 'upgrade' / 'connect' listeners, by request id. */
  private readonly tunnels = new Map<number, TunnelSocket>()
  private addressInfo: { address: string; family: string; port: number } | string | null = null
  private requestListener: RequestListener | undefined
  /** The app given to the constructor is the only 'request' listener it has ever had. */
  routesMirrorable = true
  /** The native preludes the engine may have run for requests still to come, by id (see ../prelude.ts). */
  readonly preludePlans = new Map<number, PreludePlanInfo>()
  /** Set before listen() when worker threads serve this server's listener. */
  supervisor: ThreadSupervisor | undefined
  /** The engine's call with a batch (see batch-layout.ts): its numbers, then its values, spread or packed. */
  private readonly onEventsBound = (numbers: Float64Array, packed: unknown[] | undefined, ...values: unknown[]) =>
    this.onEvents(numbers, packed ?? values)
  /**
   * `req.socket.destroy()` / `res.destroy()` from the app. The engine reports no abort for a
   * request it was told to drop, so the exchange is aborted here, as Node's socket 'close' aborts
   * the request in flight ('aborted', then the response's 'close').
   */
  private readonly destroyRequest = (id: number) => {
    settle()
    native.destroyRequest(id)
    const res = this.exchanges.get(id)
    if (res === undefined) return
    this.exchanges.delete(id)
    process.nextTick(abortExchange, res)
  }

  /** As Node's `new http.Server([options][, requestListener])`. */
  constructor(options?: ServerOptions | RequestListener, requestListener?: RequestListener) {
    super()
    if (typeof options === 'function') requestListener = options
    else if (options) this.configure(options)
    if (requestListener) this.on('request', requestListener)
    this.on('newListener', (event) => {
      if (event === 'request') this.requestListenersChanged()
      // The cached listener would skip the 'checkContinue' dispatch.
      if (event === 'checkContinue') this.requestListener = undefined
      if (event === 'connect') this.native.setConnectListener(true)
      if (event === 'upgrade') this.native.setUpgradeListener(true)
    })
    this.on('removeListener', (event) => {
      if (event === 'request') this.requestListenersChanged()
      if (event === 'connect' && this.listenerCount('connect') === 0) this.native.setConnectListener(false)
      if (event === 'upgrade' && this.listenerCount('upgrade') === 0) this.native.setUpgradeListener(false)
    })
  }

  static {
    // Settable before or after listen(), as on Node's server (`server.keepAliveTimeout = 65_000`
    // behind a load balancer is the classic): a change reaches the engine at once.
    for (const name of SETTING_NAMES) {
      Object.defineProperty(HttpServer.prototype, name, {
        configurable: true,
        get(this: HttpServer) {
          return this.settings[name]
        },
        set(this: HttpServer, value: never) {
          this.settings[name] = value
          if (this.listening) this.native.setLimits(engineLimits(this.settings))
        },
      })
    }
    for (const [name, rule] of Object.entries(OPTION_RULES)) {
      if (!rule.property) continue
      Object.defineProperty(HttpServer.prototype, name, {
        configurable: true,
        get(this: HttpServer) {
          return name in this.optionValues ? this.optionValues[name] : rule.initial
        },
        set(this: HttpServer, value: unknown) {
          this.optionValues[name] = checkOption(name, value)
        },
      })
    }
  }

  /**
   * Applies createServer()'s options; an unknown one is ignored, as by Node (which reads
   * maxHeadersCount, maxRequestsPerSocket and maxConnections only as properties).
   */
  private configure(options: ServerOptions): void {
    // Node's own server validates and defaults its timing options (headersTimeout is at most
    // requestTimeout, and defaults to it when under 60 s): its errors and values, exactly.
    const timing: Record<string, unknown> = {}
    for (const name of NODE_VALIDATED) if (options[name] !== undefined) timing[name] = options[name]
    const node = new http.Server(timing as http.ServerOptions) as unknown as Record<string, unknown>
    for (const name of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize'] as const) {
      this.settings[name] = node[name] as never
    }
    if (options.connectionsCheckingInterval !== undefined) this.optionValues.connectionsCheckingInterval = node.connectionsCheckingInterval
    for (const name of Object.keys(options)) {
      const value = options[name]
      if (value === undefined || name === 'connectionsCheckingInterval') continue
      if (name in OPTION_RULES) {
        checkOption(name, value)
        if (OPTION_RULES[name].property) this.optionValues[name] = value
      }
    }
  }

  /**
   * socket.io and the like wrap or replace the 'request' listeners after listen(): the cached
   * listener is no longer the one to call, and the app's routes no longer say what gets a 404,
   * so the engine stops answering from its mirror of them, for good.
   */
  private requestListenersChanged() {
    this.requestListener = undefined
    if (this.routesMirrorable) {
      this.routesMirrorable = false
      this.native.disableRoutes()
    }
  }

  /** As Node's: `(port, host, backlog, cb)`, `(path, backlog, cb)`, `(options, cb)`. */
  listen(...args: unknown[]): this {
    const { options, callback } = listenArguments(args)
    if (callback) this.once('listening', callback)
    const { where, shownHost, shownPort } = listenAddress(options)
    return this.listenOn(where, shownHost, shownPort)
  }

  private listenOn(where: ListenAddress, shownHost: string | undefined, shownPort: number): this {
    this.requestListener = this.listenerCount('request') === 1 ? (this.listeners('request')[0] as RequestListener) : undefined
    try {
      const info = this.native.listen({ ...where, limits: engineLimits(this.settings), serving: this.supervisor === undefined }, this.onEventsBound)
      // A Unix socket's address is its path, as in Node.
      this.addressInfo = info.family === 'Unix' ? info.address : info
    } catch (error) {
      decorateListenError(error as ListenError, shownHost, shownPort, where.path)
      process.nextTick(() => this.emit('error', error))
      return this
    }
    this.listening = true
    liveServers.add(this)
    if (this.supervisor !== undefined) this.supervisor.start(this.native.listenerId()!)
    else process.nextTick(() => this.emit('listening'))
    return this
  }

  /**
   * Serves, from this (worker) thread, the listener `listenerId` another thread of the process
   * bound: requests come here as if this server had bound it. `threadKey` names this thread to
   * the listener's owner.
   */
  serveShared(listenerId: number, threadKey: number): this {
    this.requestListener = this.listenerCount('request') === 1 ? (this.listeners('request')[0] as RequestListener) : undefined
    const info = this.native.attach(listenerId, threadKey, this.onEventsBound)
    this.addressInfo = info.family === 'Unix' ? info.address : info
    this.listening = true
    liveServers.add(this)
    process.nextTick(() => this.emit('listening'))
    return this
  }

  /**
   * Node's listening handle, null once closed. Libraries read it to tell a listening server from a
   * closed one (supertest closes the server it started only when `_handle` is set).
   */
  get _handle(): NativeServer | null {
    return this.listening ? this.native : null
  }

  address() {
    return this.listening ? this.addressInfo : null
  }

  close(callback?: (err?: Error) => void): this {
    if (!this.listening) {
      if (callback) process.nextTick(callback, errors.serverNotRunning())
      return this
    }
    if (callback) this.once('close', callback)
    this.listening = false
    this.native.close()
    return this
  }

  // The engine closes idle connections itself when closing, as Node 19+ does in close().
  closeIdleConnections(): void {}

  /** Closes every connection now; requests in flight are aborted (Node's closeAllConnections). */
  closeAllConnections(): void {
    this.native.closeAllConnections()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return new Promise((resolve, reject) => this.close((err) => (err ? reject(err) : resolve())))
  }

  getConnections(callback: (err: Error | null, count: number) => void): this {
    process.nextTick(callback, null, this.native.connections())
    return this
  }

  ref(): this {
    this.native.ref()
    return this
  }

  unref(): this {
    this.native.unref()
    return this
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.timeout = ms
    if (callback) this.on('timeout', callback)
    return this
  }

  /** Node's socketOnTimeout: the request, the response, then the server may take the timeout;
   * when none listens, the socket is destroyed. */
  private readonly socketTimedOut = (socket: EngineSocket) => {
    const res = socket.currentRequest !== 0 ? this.exchanges.get(socket.currentRequest) : undefined
    const byRequest = res !== undefined && !res.req.complete && res.req.emit('timeout', socket)
    const byResponse = res?.emit('timeout', socket)
    const byServer = this.emit('timeout', socket)
    if (!byRequest && !byResponse && !byServer) socket.destroy()
  }

  /** A completed exchange no longer needs its abort and drain events. */
  forget(id: number): void {
    this.exchanges.delete(id)
  }

  /** Engine counters for the benchmark report. */
  stats() {
    return this.native.stats()
  }

  private onEvents(numbers: Float64Array, batch: unknown[]): void {
    const length = numbers.length
    // `i` walks the numbers, `v` the values
    let i = 0
    let v = 0
    while (i < length) {
      // `at` is the event's tag; `i` and `v` move past the event first, so a listener that throws
      // leaves the loop at the next event
      const at = i
      const tag = numbers[at] as Tag
      try {
        switch (tag) {
          case Tag.Request: {
            const m = numbers[at + RequestEvent.Method]
            const method = m >= 0 ? METHODS[m] : (batch[v++] as string)
            const url = batch[v++] as string
            const headers = batch[v++] as string
            const kind = numbers[at + RequestEvent.Body] as BodyKind
            const body: boolean | Buffer | [Buffer] =
              kind === BodyKind.None ? false : kind === BodyKind.Streams ? true : kind === BodyKind.Whole ? (batch[v++] as Buffer) : [batch[v++] as Buffer]
            const prelude = numbers[at + RequestEvent.Prelude] === 1 ? (batch[v++] as string) : undefined
            const count = numbers[at + RequestEvent.Candidates]
            let candidates: number[] | undefined
            if (count !== 0) {
              candidates = new Array<number>(count)
              for (let k = 0; k < count; k++) candidates[k] = numbers[at + RequestEvent.Stride + k]
            }
            i += RequestEvent.Stride + count
            this.onRequest(
              numbers[at + RequestEvent.Id],
              numbers[at + RequestEvent.Connection],
              method,
              url,
              numbers[at + RequestEvent.HttpMinor],
              headers,
              body,
              candidates,
              prelude,
            )
            break
          }
          case Tag.Connection: {
            i += ConnectionEvent.Stride
            const family = numbers[at + ConnectionEvent.Family]
            // a Unix socket has no addresses: undefined, as in Node
            const socket = new EngineSocket(
              family === 0
                ? {}
                : {
                    remoteAddress: batch[v++] as string,
                    remotePort: numbers[at + ConnectionEvent.RemotePort],
                    family,
                    localAddress: batch[v++] as string,
                    localPort: numbers[at + ConnectionEvent.LocalPort],
                  },
              this.destroyRequest,
            )
            this.sockets.set(numbers[at + ConnectionEvent.Id], socket)
            socket.onTimeout = this.socketTimedOut
            if (this.timeout > 0) socket.setTimeout(this.timeout)
            if (this.listenerCount('connection') !== 0) this.emit('connection', socket)
            break
          }
          case Tag.Body: {
            i += BodyEvent.Stride
            const id = numbers[at + BodyEvent.Id]
            const chunk = batch[v++] as Buffer
            const tunnel = this.tunnels.size !== 0 ? this.tunnels.get(id) : undefined
            if (tunnel) {
              tunnel.deliver(chunk)
            } else {
              const req = this.exchanges.get(id)?.req
              req?.socket.touch()
              req?.[kBodyChunk](chunk)
            }
            break
          }
          case Tag.BodyEnd: {
            i += BodyEndEvent.Stride
            const id = numbers[at + BodyEndEvent.Id]
            const tunnel = this.tunnels.size !== 0 ? this.tunnels.get(id) : undefined
            if (tunnel) tunnel.deliver(null)
            else this.exchanges.get(id)?.req[kBodyEnd]()
            break
          }
          case Tag.Aborted: {
            i += AbortedEvent.Stride
            const id = numbers[at + AbortedEvent.Id]
            const tunnel = this.tunnels.get(id)
            if (tunnel) {
              // The engine closed the handed-over connection.
              this.tunnels.delete(id)
              tunnel.destroy()
              break
            }
            const res = this.exchanges.get(id)
            if (res) {
              this.exchanges.delete(id)
              connectionLost(res)
            }
            break
          }
          case Tag.Drain: {
            i += DrainEvent.Stride
            const id = numbers[at + DrainEvent.Id]
            const tunnel = this.tunnels.size !== 0 ? this.tunnels.get(id) : undefined
            if (tunnel) tunnel.drained()
            else this.exchanges.get(id)?.[kOnDrain]()
            break
          }
          case Tag.ConnectionClosed: {
            i += ConnectionClosedEvent.Stride
            const id = numbers[at + ConnectionClosedEvent.Id]
            const socket = this.sockets.get(id)
            if (socket) {
              this.sockets.delete(id)
              // As Node's socketOnClose: the request in flight is aborted before the socket's own
              // 'close' listeners run (this event may come before the request's abort).
              const res = socket.currentRequest !== 0 ? this.exchanges.get(socket.currentRequest) : undefined
              if (res !== undefined) {
                this.exchanges.delete(socket.currentRequest)
                connectionLost(res, socket)
              } else if (abortsPending.has(socket)) {
                // after the request's own (deferred) abort, as Node orders them
                setImmediate(() => socket.markClosed())
              } else socket.markClosed()
            }
            break
          }
          case Tag.PreludeNotices: {
            i += PreludeNoticesEvent.Stride
            this.preludePlans.get(numbers[at + PreludeNoticesEvent.Plan])?.notices(numbers[at + PreludeNoticesEvent.Bits])
            break
          }
          case Tag.Dropped: {
            i += DroppedEvent.Stride
            const family = numbers[at + DroppedEvent.Family]
            // a Unix socket has no addresses; the values are taken whether or not anyone listens
            const remoteAddress = family === 0 ? undefined : (batch[v++] as string)
            const localAddress = family === 0 ? undefined : (batch[v++] as string)
            // Node's 'drop': a connection closed as accepted, beyond maxConnections.
            if (this.listenerCount('drop') === 0) break
            const data =
              family === 0
                ? undefined
                : {
                    localAddress,
                    localPort: numbers[at + DroppedEvent.LocalPort],
                    localFamily: family === 4 ? 'IPv4' : 'IPv6',
                    remoteAddress,
                    remotePort: numbers[at + DroppedEvent.RemotePort],
                    remoteFamily: family === 4 ? 'IPv4' : 'IPv6',
                  }
            this.emit('drop', data)
            break
          }
          case Tag.Closed:
            i += ClosedEvent.Stride
            this.native.release()
            liveServers.delete(this)
            if (this.supervisor !== undefined) this.supervisor.stop(() => this.emit('close'))
            else this.emit('close')
            break
          default:
            throw new Error(`unknown engine event ${String(tag)}`)
        }
      } catch (error) {
        // A listener that throws must not lose the rest of the batch; Node would crash on an
        // uncaught exception here, so report it the same way, after the batch.
        process.nextTick(() => {
          throw error
        })
        // the stride of an unknown tag is unknown: the rest of the batch cannot be read
        if (!(tag >= 0 && tag < TAG_COUNT)) return
      }
    }
  }

  private onRequest(
    id: number,
    connection: number,
    method: string,
    url: string,
    httpMinor: number,
    headers: string,
    body: boolean | Buffer | [Buffer],
    candidates: number[] | undefined,
    prelude: string | undefined,
  ) {
    this.requests++
    const socket = this.sockets.get(connection)!
    // [head]: a connection handed over, with what came after its head (see the engine's batch).
    if (Array.isArray(body)) return this.handOver(id, socket, method, url, httpMinor, headers, body[0])
    // 2 set: beyond maxRequestsPerSocket on its connection.
    const dropped = httpMinor >= 2
    httpMinor &= 1
    socket.currentRequest = id
    socket.touch()
    const req = new this.requestClass(id, socket, method, url, httpMinor, headers, body)
    if (candidates !== undefined) req[kCandidates] = candidates
    const res = new this.responseClass(req, this)
    if (prelude !== undefined) this.attachPrelude(req, res, prelude)
    this.exchanges.set(id, res)
    if (dropped) {
      // As Node: the handlers never see it; 'dropRequest', then 503 (the engine says close).
      this.emit('dropRequest', req, socket)
      res.writeHead(503)
      res.end()
      if (body !== true) req.complete = true
      return
    }
    const listener = this.requestListener
    if (listener !== undefined) listener.call(this, req, res)
    else if (this.listenerCount('checkContinue') !== 0 && req.headers.expect === '100-continue') this.emit('checkContinue', req, res)
    else this.emit('request', req, res)
    // As Node's parser, which completes a message it holds whole right after the 'request' event.
    if (body !== true) req.complete = true
  }

  /**
   * A request the native prelude ran for: the app's router skips the layers it ran (kPrelude), the
   * response starts with the headers it set (taken into JS when JS touches one, see
   * server-response.ts), and the rate limiters hear what their first request showed.
   */
  private attachPrelude(req: EngineIncomingMessage, res: EngineServerResponse, text: string) {
    const plan = this.preludePlans.get(planId(text))
    res[kPreludeText] = text
    if (plan === undefined) {
      // Not a plan installed here: keep its headers, and let JS run every layer.
      res[kTakePrelude]()
      return
    }
    req[kPrelude] = plan.ranUpTo(ranStages(text))
    req[kPreludePlan] = plan
    req[kPreludeText] = text
    res[kPreludeNames] = plan.headerNames
    const bits = noticeBits(text)
    if (bits !== 0) plan.notices(bits)
  }

  /** CONNECT, or an Upgrade with listeners: Node's `'connect'` / `'upgrade'` with the socket. */
  private handOver(id: number, connection: EngineSocket, method: string, url: string, httpMinor: number, headers: string, head: Buffer) {
    const socket = new TunnelSocket(id, connection)
    this.tunnels.set(id, socket)
    const req = new EngineIncomingMessage(id, connection, method, url, httpMinor, headers, false)
    ;(req as { upgrade: boolean }).upgrade = true
    // As Node's, a handed-over request's socket is the connection itself: here the tunnel, which
    // nothing of the request path uses from now on.
    req.socket = socket as unknown as EngineSocket
    socket.once('close', () => this.tunnels.delete(id))
    this.emit(method === 'CONNECT' ? 'connect' : 'upgrade', req, socket, head)
  }
}

// `server instanceof http.Server` (and net.Server) holds, as libraries that take a server check
// it. Every method of those prototypes is defined above, so none of Node's internals runs here.
Object.setPrototypeOf(HttpServer.prototype, http.Server.prototype)
