// What `req.socket` / `res.socket` are: the addresses of the connection and its lifecycle events.
// The bytes themselves belong to the engine; reading or writing the socket directly is not offered.
import { EventEmitter } from 'node:events'
import { errors } from '../errors'

/**
 * The connection's responses not yet ended, in request order. As in Node, only the first has the
 * socket; the others wait behind it (Node 24 joins the writes of one tick only on a socket).
 */
export const kAnswering = Symbol('xypriss.answering')

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged controls are on the prototype (withEngineControls below)
export class EngineSocket extends EventEmitter implements PeerAddresses {
  // Undefined on a Unix socket, as in Node.
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  /** Only TLS sockets have it, as in Node: plain connections leave it undefined. */
  declare readonly encrypted: true | undefined
  readable = true
  writable = true
  destroyed = false
  /** The request whose connection this is, so `destroy()` reaches the engine. */
  currentRequest = 0;
  [kAnswering]: object[] = []
  private readonly destroyRequest: (id: number) => void

  constructor(
    info: { remoteAddress?: string; remotePort?: number; family?: number; localAddress?: string; localPort?: number },
    destroyRequest: (id: number) => void,
  ) {
    super()
    this.remoteAddress = info.remoteAddress
    this.remotePort = info.remotePort
    this.remoteFamily = info.family === undefined ? undefined : info.family === 4 ? 'IPv4' : 'IPv6'
    this.localAddress = info.localAddress
    this.localPort = info.localPort
    this.destroyRequest = destroyRequest
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this
    if (this.currentRequest !== 0) this.destroyRequest(this.currentRequest)
    this.markClosed(error)
    return this
  }

  /** The engine reported the connection closed. */
  markClosed(error?: Error) {
    if (this.destroyed) return
    this.destroyed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.readable = false
    this.writable = false
    process.nextTick(() => {
      if (error) this.emit('error', error)
      this.emit('close', Boolean(error))
    })
  }

  /** Called when the socket's timeout fires, after the socket's own listeners (the server's). */
  onTimeout: ((socket: EngineSocket) => void) | undefined = undefined
  timeout = 0
  private timer: NodeJS.Timeout | undefined = undefined

  /**
   * As net.Socket: 'timeout' after `ms` without activity (a request or body bytes arriving, a
   * response being written), then the server decides (req/res/server listeners, else destroy).
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback)
    this.timeout = ms
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (ms > 0 && !this.destroyed) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.emit('timeout')
        this.onTimeout?.(this)
      }, ms)
      this.timer.unref()
    }
    return this
  }

  /** Activity: the timeout starts over. */
  touch(): void {
    if (this.timer !== undefined) this.timer.refresh()
  }
  write(): boolean {
    throw errors.notSupported('Writing to req.socket directly')
  }
  end(): this {
    return this.destroy()
  }
}

/** Where a connection comes from and arrives. */
export interface PeerAddresses {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
}

/** Socket controls that belong to the engine (Nagle, TCP keep-alive, event-loop refs), and address(). */
export interface EngineControls {
  setNoDelay(): this
  setKeepAlive(): this
  ref(): this
  unref(): this
  address(): { address: string | undefined; family: string | undefined; port: number | undefined }
}

/** Adds the engine-owned socket controls as chainable no-ops, as middleware and ws call them. */
export function withEngineControls(target: { prototype: object }): void {
  const define = (name: string, value: (...args: never[]) => unknown) =>
    Object.defineProperty(target.prototype, name, { value, writable: true, configurable: true })
  for (const name of ['setNoDelay', 'setKeepAlive', 'ref', 'unref']) {
    define(name, function chainable(this: unknown) {
      return this
    })
  }
  define('address', function address(this: PeerAddresses) {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort }
  })
}

export interface EngineSocket extends EngineControls {}
withEngineControls(EngineSocket)
