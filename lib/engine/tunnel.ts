// The socket an `'upgrade'` or `'connect'` listener gets: a Duplex over a connection the engine
// handed over. The first bytes written are the response head (ws writes its 101 this way); after
// a 101 (or a 2xx to CONNECT) the bytes flow raw both ways, with a net.Socket's backpressure:
// write() returns false while the client is behind and 'drain' follows; a paused socket (or one
// whose buffer is full) stops the engine reading from the client, so TCP slows a flooding client.
import { Duplex } from 'node:stream'
import { native } from '../binding'
import { type EngineControls, type EngineSocket, type PeerAddresses, withEngineControls } from './socket'

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged controls are on the prototype (withEngineControls below)
export class TunnelSocket extends Duplex {
  /** Only TLS sockets have it, as in Node: plain connections leave it undefined. */
  declare readonly encrypted: true | undefined
  private readonly id: number
  /** The callback of a write the engine holds until the client catches up. */
  private pendingWrite: ((error?: Error | null) => void) | undefined = undefined
  /** The engine was asked to stop reading from the client. */
  private readingStopped = false

  constructor(id: number, connection: EngineSocket) {
    // As a server-side net.Socket: when the peer ends, this side ends too.
    super({ allowHalfOpen: false })
    this.id = id
    const { remoteAddress, remotePort, remoteFamily, localAddress, localPort } = connection
    Object.assign(this, { remoteAddress, remotePort, remoteFamily, localAddress, localPort })
  }

  /** As net.Socket: the engine stops reading from the client now, not once the buffer fills. */
  pause(): this {
    super.pause()
    if (!this.readingStopped && !this.destroyed) {
      this.readingStopped = true
      native.tunnelFlow(this.id, false)
    }
    return this
  }

  /** As net.Socket: reading from the client starts again now (a paused stream may not ask). */
  resume(): this {
    super.resume()
    this._read()
    return this
  }

  _read(): void {
    // The consumer wants more: the engine reads from the client again.
    if (this.readingStopped) {
      this.readingStopped = false
      native.tunnelFlow(this.id, true)
    }
  }

  _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let caughtUp: boolean
    try {
      caughtUp = native.tunnelWrite(this.id, chunk)
    } catch (error) {
      callback(error as Error)
      return
    }
    // Over the engine's high-water mark: the stream holds further writes (write() says false)
    // until the engine drains.
    if (caughtUp) callback()
    else this.pendingWrite = callback
  }

  _final(callback: (error?: Error | null) => void): void {
    native.tunnelEnd(this.id)
    callback()
  }

  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    native.destroyRequest(this.id)
    const pending = this.pendingWrite
    this.pendingWrite = undefined
    pending?.(error)
    callback(error)
  }

  /** Bytes from the peer (null: it ended). */
  deliver(chunk: Buffer | null): void {
    if (!this.push(chunk) && chunk !== null && !this.readingStopped) {
      this.readingStopped = true
      native.tunnelFlow(this.id, false)
    }
  }

  /** The engine wrote what it held: the next write may go. */
  drained(): void {
    const pending = this.pendingWrite
    this.pendingWrite = undefined
    pending?.()
  }

  // Timeouts belong to the engine; keep the call chainable as ws and proxies expect.
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback)
    return this
  }
}

export interface TunnelSocket extends EngineControls, PeerAddresses {}
withEngineControls(TunnelSocket)
