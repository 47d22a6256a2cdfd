// What `req.socket` / `res.socket` are: the addresses of the connection and its lifecycle events.
// The bytes themselves belong to the engine; reading or writing the socket directly is not offered.
import { EventEmitter } from 'node:events'
import { errors } from '../errors'

export class EngineSocket extends EventEmitter {
  // Undefined on a Unix socket, as in Node.
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  readonly encrypted = false
  readable = true
  writable = true
  destroyed = false
  /** The request whose connection this is, so `destroy()` reaches the engine. */
  currentRequest = 0
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

  address() {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort }
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
    this.readable = false
    this.writable = false
    process.nextTick(() => {
      if (error) this.emit('error', error)
      this.emit('close', Boolean(error))
    })
  }

  // Timeouts belong to the engine's limits; keep the call chainable as middleware expects.
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback)
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
  write(): boolean {
    throw errors.notSupported('Writing to req.socket directly')
  }
  end(): this {
    return this.destroy()
  }
}
