// A Node-compatible `http.Server` whose sockets and parsing live in the native engine.
// Events arrive in batches (one flat array per wake-up, see crates/xypriss-napi/src/batch.rs).
import { EventEmitter } from 'node:events'
import { constants as osConstants } from 'node:os'
import { native, type NativeServer } from '../binding'
import { errors } from '../errors'
import { IncomingRequest } from '../request'
import { ServerResponse } from '../response'
import { kBodyChunk, kBodyEnd, kCandidates, kOnAbort, kOnDrain, kServer } from '../symbols'
import { EngineSocket } from './socket'

const TAG_CONNECTION = 0
const TAG_REQUEST = 1
const TAG_BODY = 2
const TAG_BODY_END = 3
const TAG_ABORTED = 4
const TAG_DRAIN = 5
const TAG_CONNECTION_CLOSED = 6
const TAG_CLOSED = 7

export type RequestListener = (req: IncomingRequest, res: ServerResponse) => void

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
  req: IncomingRequest
  res: ServerResponse
}

/** Every engine-backed server that is listening, for `engineStats()`. */
export const liveServers = new Set<HttpServer>()

export class HttpServer extends EventEmitter {
  /** Requests handed to JS handlers by this server. */
  requests = 0
  listening = false
  headersTimeout = 30_000
  maxHeaderSize = 16 * 1024
  maxHeadersCount: number | null = null
  requestTimeout = 300_000
  keepAliveTimeout = 5_000
  timeout = 0
  readonly native: NativeServer = new native.NativeServer()
  /** What req/res are built from; an app's server builds them on `app.request` / `app.response`. */
  requestClass: typeof IncomingRequest = IncomingRequest
  responseClass: typeof ServerResponse = ServerResponse
  private readonly exchanges = new Map<number, Exchange>()
  private readonly sockets = new Map<number, EngineSocket>()
  private addressInfo: { address: string; family: string; port: number } | null = null
  private requestListener: RequestListener | undefined
  private readonly onEventsBound = (batch: unknown[]) => this.onEvents(batch)
  private readonly destroyRequest = (id: number) => native.destroyRequest(id)

  constructor(requestListener?: RequestListener) {
    super()
    if (requestListener) this.on('request', requestListener)
    this.on('newListener', (event) => {
      if (event === 'connect') this.native.setConnectListener(true)
    })
  }

  listen(...args: any[]): this {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    let options: ListenOptions
    if (args[0] !== null && typeof args[0] === 'object') options = args[0]
    else options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined, backlog: typeof args[1] === 'number' ? args[1] : args[2] }
    if (callback) this.once('listening', callback)
    if (options.path !== undefined) throw errors.notSupported('Listening on a Unix socket path')
    const port = options.port === undefined || options.port === null || options.port === '' ? 0 : Number(options.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw Object.assign(new RangeError(`options.port should be >= 0 and < 65536. Received ${String(options.port)}.`), { code: 'ERR_SOCKET_BAD_PORT' })
    }
    this.requestListener = this.listenerCount('request') === 1 ? (this.listeners('request')[0] as RequestListener) : undefined
    try {
      this.addressInfo = this.native.listen(
        {
          host: options.host,
          port,
          backlog: options.backlog,
          headersTimeout: this.headersTimeout,
          maxHeaderSize: this.maxHeaderSize,
          maxHeaders: this.maxHeadersCount ?? undefined,
        },
        this.onEventsBound as any,
      )
    } catch (error: any) {
      decorateListenError(error, options.host, port)
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

  closeIdleConnections(): void {}

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
            i += 9
            this.onRequest(
              batch[i - 8] as number,
              batch[i - 7] as number,
              batch[i - 6] as string,
              batch[i - 5] as string,
              batch[i - 4] as number,
              batch[i - 3] as string,
              batch[i - 2] as boolean | Buffer,
              batch[i - 1] as number[] | undefined,
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
            if (this.listenerCount('connection') !== 0) this.emit('connection', socket)
            break
          }
          case TAG_BODY:
            i += 3
            this.exchanges.get(batch[i - 2] as number)?.req[kBodyChunk](batch[i - 1] as Buffer)
            break
          case TAG_BODY_END:
            i += 2
            this.exchanges.get(batch[i - 1] as number)?.req[kBodyEnd]()
            break
          case TAG_ABORTED: {
            i += 2
            const id = batch[i - 1] as number
            const exchange = this.exchanges.get(id)
            if (exchange) {
              this.exchanges.delete(id)
              exchange.req[kOnAbort]()
              exchange.res[kOnAbort]()
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
              socket.markClosed()
            }
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
        if (!(tag >= TAG_CONNECTION && tag <= TAG_CLOSED)) return
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
    body: boolean | Buffer,
    candidates: number[] | undefined,
  ) {
    this.requests++
    const socket = this.sockets.get(connection)!
    socket.currentRequest = id
    const req = new this.requestClass(id, socket, method, url, httpMinor, headers, body)
    if (candidates !== undefined) req[kCandidates] = candidates
    const res = new this.responseClass(req)
    const exchange: Exchange = { req, res }
    this.exchanges.set(id, exchange)
    res[kServer] = this
    if (method === 'CONNECT') {
      this.emit('connect', req, socket, Buffer.alloc(0))
      return
    }
    const listener = this.requestListener
    if (listener !== undefined) listener.call(this, req, res)
    else this.emit('request', req, res)
  }
}

function decorateListenError(error: any, host: string | undefined, port: number) {
  const code = error.code as string
  const errno = (osConstants.errno as Record<string, number>)[code]
  const address = host ?? '::'
  error.message = `listen ${code}: ${describe(code)} ${address}:${port}`
  error.errno = errno === undefined ? undefined : -errno
  error.syscall = 'listen'
  error.address = address
  error.port = port
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
