// The socket an `'upgrade'` or `'connect'` listener gets: a Duplex over a connection the engine
// handed over. The first bytes written are the response head (ws writes its 101 this way); after
// a 101 (or a 2xx to CONNECT) the bytes flow raw both ways.
import { Duplex } from 'node:stream'
import { native } from '../binding'
import { type EngineControls, type EngineSocket, type PeerAddresses, withEngineControls } from './socket'

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged controls are on the prototype (withEngineControls below)
export class TunnelSocket extends Duplex {
  /** Only TLS sockets have it, as in Node: plain connections leave it undefined. */
  declare readonly encrypted: true | undefined
  private readonly id: number

  constructor(id: number, connection: EngineSocket) {
    // As a server-side net.Socket: when the peer ends, this side ends too.
    super({ allowHalfOpen: false })
    this.id = id
    const { remoteAddress, remotePort, remoteFamily, localAddress, localPort } = connection
    Object.assign(this, { remoteAddress, remotePort, remoteFamily, localAddress, localPort })
  }

  _read(): void {
    // Bytes are pushed as the engine delivers them.
  }

  _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      native.tunnelWrite(this.id, chunk)
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  _final(callback: (error?: Error | null) => void): void {
    native.tunnelEnd(this.id)
    callback()
  }

  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    native.destroyRequest(this.id)
    callback(error)
  }

  /** Bytes from the peer. */
  deliver(chunk: Buffer | null): void {
    this.push(chunk)
  }

  // Timeouts belong to the engine; keep the call chainable as ws and proxies expect.
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback)
    return this
  }
}

export interface TunnelSocket extends EngineControls, PeerAddresses {}
withEngineControls(TunnelSocket)
