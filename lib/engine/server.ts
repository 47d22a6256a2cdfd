// A Node-compatible `http.Server` whose sockets and parsing live in the native engine.
// Events arrive in batches (one flat array per wake-up, see crates/xypriss-napi/src/batch.rs).
import { EventEmitter } from 'node:events'
import http from 'node:http'
import { constants as osConstants } from 'node:os'
import { native, type NativeServer } from '../binding'
import { errors } from '../errors'
import { EngineIncomingMessage } from '../request'
import { EngineServerResponse } from '../response'
import { kBodyChunk, kBodyEnd, kCandidates, kOnAbort, kOnDrain, kServer } from '../symbols'
import { attachPrelude, deliverNoticeBits, type Plan } from '../prelude'
import { EngineSocket } from './socket'
import { TunnelSocket } from './tunnel'

const TAG_CONNECTION = 0
const TAG_REQUEST = 1
const TAG_BODY = 2
const TAG_BODY_END = 3
const TAG_ABORTED = 4
const TAG_DRAIN = 5
const TAG_CONNECTION_CLOSED = 6
const TAG_CLOSED = 7
const TAG_PRELUDE_NOTICES = 8

export type RequestListener = (req: EngineIncomingMessage, res: EngineServerResponse) => void

export interface ListenOptions {
  port?: number | string
  host?: string
  backlog?: number
  exclusive?: boolean
  ipv6Only?: boolean
  path?: string
  signal?: AbortSignal
}

interface Exchange {
  req: EngineIncomingMessage
  res: EngineServerResponse
}

/** Every engine-backed server that is listening, for `engineStats()`. */
export const liveServers = new Set<HttpServer>()

export class HttpServer extends EventEmitter {
  /** Requests handed to JS handlers by this server. */
  requests = 0
  listening = false
  private timeouts = { headers: 30_000, keepAlive: 5_000 }
  maxHeaderSize = 16 * 1024
  maxHeadersCount: number | null = null
  requestTimeout = 300_000
  timeout = 0
  // Node's http.Server options, with Node's defaults; the engine applies its own equivalents.
  maxRequestsPerSocket = 0
  connectionsCheckingInterval = 30_000
  highWaterMark = 16 * 1024
  requireHostHeader = true
  rejectNonStandardBodyWrites = false
  noDelay = true
  keepAlive = false
  keepAliveInitialDelay = 0
  readonly native: NativeServer = new native.NativeServer()
  /**
   * What req/res are built from: Node's surface only for a plain listener; an app's server builds
   * them on `app.request` / `app.response` (Express's members included).
   */
  requestClass: typeof EngineIncomingMessage = EngineIncomingMessage
  responseClass: typeof EngineServerResponse = EngineServerResponse
  private readonly exchanges = new Map<number, Exchange>()
  private readonly sockets = new Map<number, EngineSocket>()
  /** Connections handed to 'upgrade' / 'connect' listeners, by request id. */
  private readonly tunnels = new Map<number, TunnelSocket>()
  private addressInfo: { address: string; family: string; port: number } | string | null = null
  private requestListener: RequestListener | undefined
  /** The app given to the constructor is the only 'request' listener it has ever had. */
  routesMirrorable = true
  /** The native preludes the engine may have run for requests still to come, by id (see ../prelude.ts). */
  readonly preludePlans = new Map<number, Plan>()
  private readonly onEventsBound = (batch: unknown[]) => this.onEvents(batch)
  /**
   * `req.socket.destroy()` / `res.destroy()` from the app. The engine reports no abort for a
   * request it was told to drop, so the exchange is aborted here, as Node's socket 'close' aborts
   * the request in flight ('aborted', then the response's 'close').
   */
  private readonly destroyRequest = (id: number) => {
    native.destroyRequest(id)
    const exchange = this.exchanges.get(id)
    if (exchange === undefined) return
    this.exchanges.delete(id)
    process.nextTick(abortExchange, exchange)
  }

  constructor(requestListener?: RequestListener) {
    super()
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

  // Settable before or after listen(), as on Node's server (`server.keepAliveTimeout = 65_000`
  // behind a load balancer is the classic).
  get headersTimeout(): number {
    return this.timeouts.headers
  }
  set headersTimeout(ms: number) {
    this.timeouts.headers = ms
    if (this.listening) this.native.setTimeouts(ms, this.timeouts.keepAlive)
  }
  get keepAliveTimeout(): number {
    return this.timeouts.keepAlive
  }
  set keepAliveTimeout(ms: number) {
    this.timeouts.keepAlive = ms
    if (this.listening) this.native.setTimeouts(this.timeouts.headers, ms)
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

  listen(...args: any[]): this {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    let options: ListenOptions
    if (args[0] !== null && typeof args[0] === 'object') options = args[0]
    // As Node: a string that is not a port number is a Unix socket path.
    else if (typeof args[0] === 'string' && args[0] !== '' && !Number.isInteger(Number(args[0]))) options = { path: args[0], backlog: args[1] }
    else options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined, backlog: typeof args[1] === 'number' ? args[1] : args[2] }
    if (callback) this.once('listening', callback)
    if (options.path !== undefined) return this.listenOn({ path: String(options.path), port: 0, backlog: options.backlog }, options.path, 0)
    const port = options.port === undefined || options.port === null || options.port === '' ? 0 : Number(options.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw Object.assign(new RangeError(`options.port should be >= 0 and < 65536. Received ${String(options.port)}.`), { code: 'ERR_SOCKET_BAD_PORT' })
    }
    return this.listenOn({ host: options.host, port, backlog: options.backlog }, options.host, port)
  }

  private listenOn(where: { path?: string; host?: string; port: number; backlog?: number }, shownHost: string | undefined, shownPort: number): this {
    this.requestListener = this.listenerCount('request') === 1 ? (this.listeners('request')[0] as RequestListener) : undefined
    try {
      const info = this.native.listen(
        {
          ...where,
          headersTimeout: this.headersTimeout,
          keepAliveTimeout: this.keepAliveTimeout,
          maxHeaderSize: this.maxHeaderSize,
          maxHeaders: this.maxHeadersCount ?? undefined,
        },
        this.onEventsBound as any,
      )
      // A Unix socket's address is its path, as in Node.
      this.addressInfo = info.family === 'Unix' ? info.address : info
    } catch (error: any) {
      decorateListenError(error, shownHost, shownPort, where.path)
      process.nextTick(() => this.emit('error', error))
      return this
    }
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
    const exchange = socket.currentRequest !== 0 ? this.exchanges.get(socket.currentRequest) : undefined
    const byRequest = exchange !== undefined && !exchange.req.complete && exchange.req.emit('timeout', socket)
    const byResponse = exchange !== undefined && exchange.res.emit('timeout', socket)
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

  private onEvents(batch: unknown[]): void {
    const length = batch.length
    let i = 0
    while (i < length) {
      const tag = batch[i] as number
      try {
        switch (tag) {
          case TAG_REQUEST: {
            i += 10
            this.onRequest(
              batch[i - 9] as number,
              batch[i - 8] as number,
              batch[i - 7] as string,
              batch[i - 6] as string,
              batch[i - 5] as number,
              batch[i - 4] as string,
              batch[i - 3] as boolean | Buffer | [Buffer],
              batch[i - 2] as number[] | undefined,
              batch[i - 1] as string | undefined,
            )
            break
          }
          case TAG_CONNECTION: {
            i += 7
            const socket = new EngineSocket(
              {
                remoteAddress: batch[i - 5] as string,
                remotePort: batch[i - 4] as number,
                family: batch[i - 3] as number,
                localAddress: batch[i - 2] as string,
                localPort: batch[i - 1] as number,
              },
              this.destroyRequest,
            )
            this.sockets.set(batch[i - 6] as number, socket)
            socket.onTimeout = this.socketTimedOut
            if (this.timeout > 0) socket.setTimeout(this.timeout)
            if (this.listenerCount('connection') !== 0) this.emit('connection', socket)
            break
          }
          case TAG_BODY: {
            i += 3
            const id = batch[i - 2] as number
            const chunk = batch[i - 1] as Buffer
            const tunnel = this.tunnels.size !== 0 ? this.tunnels.get(id) : undefined
            if (tunnel) {
              tunnel.deliver(chunk)
            } else {
              const exchange = this.exchanges.get(id)
              exchange?.req.socket.touch()
              exchange?.req[kBodyChunk](chunk)
            }
            break
          }
          case TAG_BODY_END: {
            i += 2
            const id = batch[i - 1] as number
            const tunnel = this.tunnels.size !== 0 ? this.tunnels.get(id) : undefined
            if (tunnel) tunnel.deliver(null)
            else this.exchanges.get(id)?.req[kBodyEnd]()
            break
          }
          case TAG_ABORTED: {
            i += 2
            const id = batch[i - 1] as number
            const tunnel = this.tunnels.get(id)
            if (tunnel) {
              // The engine closed the handed-over connection.
              this.tunnels.delete(id)
              tunnel.destroy()
              break
            }
            const exchange = this.exchanges.get(id)
            if (exchange) {
              this.exchanges.delete(id)
              abortExchange(exchange)
            }
            break
          }
          case TAG_DRAIN:
            i += 2
            this.exchanges.get(batch[i - 1] as number)?.res[kOnDrain]()
            break
          case TAG_CONNECTION_CLOSED: {
            i += 2
            const socket = this.sockets.get(batch[i - 1] as number)
            if (socket) {
              this.sockets.delete(batch[i - 1] as number)
              // As Node's socketOnClose: the request in flight is aborted before the socket's own
              // 'close' listeners run (this event may come before the request's abort).
              const exchange = socket.currentRequest !== 0 ? this.exchanges.get(socket.currentRequest) : undefined
              if (exchange !== undefined) {
                this.exchanges.delete(socket.currentRequest)
                abortExchange(exchange)
              }
              socket.markClosed()
            }
            break
          }
          case TAG_PRELUDE_NOTICES: {
            i += 3
            const plan = this.preludePlans.get(batch[i - 2] as number)
            if (plan !== undefined) deliverNoticeBits(plan, batch[i - 1] as number)
            break
          }
          case TAG_CLOSED:
            i += 1
            this.native.release()
            liveServers.delete(this)
            this.emit('close')
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
        if (!(tag >= TAG_CONNECTION && tag <= TAG_PRELUDE_NOTICES)) return
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
    socket.currentRequest = id
    socket.touch()
    const req = new this.requestClass(id, socket, method, url, httpMinor, headers, body)
    if (candidates !== undefined) req[kCandidates] = candidates
    const res = new this.responseClass(req)
    if (prelude !== undefined) attachPrelude(req, res, prelude, this.preludePlans)
    const exchange: Exchange = { req, res }
    this.exchanges.set(id, exchange)
    res[kServer] = this
    const listener = this.requestListener
    if (listener !== undefined) listener.call(this, req, res)
    else if (this.listenerCount('checkContinue') !== 0 && req.headers.expect === '100-continue') this.emit('checkContinue', req, res)
    else this.emit('request', req, res)
    // As Node's parser, which completes a message it holds whole right after the 'request' event.
    if (body !== true) req.complete = true
  }

  /** CONNECT, or an Upgrade with listeners: Node's `'connect'` / `'upgrade'` with the socket. */
  private handOver(id: number, connection: EngineSocket, method: string, url: string, httpMinor: number, headers: string, head: Buffer) {
    const socket = new TunnelSocket(id, connection)
    this.tunnels.set(id, socket)
    const req = new EngineIncomingMessage(id, connection, method, url, httpMinor, headers, false)
    ;(req as any).upgrade = true
    req.socket = socket as any
    socket.once('close', () => this.tunnels.delete(id))
    this.emit(method === 'CONNECT' ? 'connect' : 'upgrade', req, socket, head)
  }
}

// `server instanceof http.Server` (and net.Server) holds, as libraries that take a server check
// it. Every method of those prototypes is defined above, so none of Node's internals runs here.
Object.setPrototypeOf(HttpServer.prototype, http.Server.prototype)

function abortExchange(exchange: Exchange) {
  exchange.req[kOnAbort]()
  exchange.res[kOnAbort]()
}

function decorateListenError(error: any, host: string | undefined, port: number, path?: string) {
  const code = error.code as string
  const errno = (osConstants.errno as Record<string, number>)[code]
  const address = path ?? host ?? '::'
  error.message = path === undefined ? `listen ${code}: ${describe(code)} ${address}:${port}` : `listen ${code}: ${describe(code)} ${path}`
  error.errno = errno === undefined ? undefined : -errno
  error.syscall = 'listen'
  error.address = address
  if (path === undefined) error.port = port
}

function describe(code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'address already in use'
    case 'EACCES':
      return 'permission denied'
    case 'EADDRNOTAVAIL':
      return 'address not available'
    default:
      return 'listen failed'
  }
}
