// A keep-alive client that sends request heads as raw bytes (any target, as a client on the wire
// could send it) and reads each response, reconnecting after a refusal closed the connection.
import net from 'node:net'

export interface RawReply {
  /** 0 when the server closed the connection without answering. */
  status: number
  headers: Record<string, string>
  body: Buffer
}

export class RawClient {
  private socket: net.Socket | undefined
  private buffer = Buffer.alloc(0)
  private closed = true
  private wake: (() => void) | undefined

  constructor(private readonly port: number) {}

  /** `GET <target> HTTP/1.1` with a Host header; `target` is taken byte for byte (latin1). */
  get(target: string, method = 'GET'): Promise<RawReply> {
    return this.send(Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'), method === 'HEAD')
  }

  async send(head: Buffer, headRequest = false): Promise<RawReply> {
    if (this.closed) this.connect()
    this.socket!.write(head)
    return this.readReply(headRequest)
  }

  close(): void {
    this.socket?.destroy()
    this.socket = undefined
    this.closed = true
  }

  private connect(): void {
    this.buffer = Buffer.alloc(0)
    this.closed = false
    const socket = net.connect(this.port, '127.0.0.1')
    socket.setNoDelay(true)
    // Events of a connection given up on must not reach the next one.
    socket.on('data', (d) => {
      if (socket !== this.socket) return
      this.buffer = Buffer.concat([this.buffer, d])
      this.wake?.()
    })
    const onEnd = () => {
      if (socket !== this.socket) return
      this.closed = true
      this.wake?.()
    }
    socket.on('close', onEnd)
    socket.on('end', onEnd)
    socket.on('error', onEnd)
    this.socket = socket
  }

  /** Resolves once more bytes came or the connection closed. */
  private more(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined
        resolve()
      }, 10_000)
      this.wake = () => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
    })
  }

  private async readReply(headRequest: boolean): Promise<RawReply> {
    let end: number
    while ((end = this.buffer.indexOf('\r\n\r\n')) === -1) {
      if (this.closed) {
        this.buffer = Buffer.alloc(0)
        return { status: 0, headers: {}, body: Buffer.alloc(0) }
      }
      await this.more()
    }
    const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n')
    const status = Number(lines[0].split(' ')[1])
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    this.buffer = this.buffer.subarray(end + 4)
    let body: Buffer
    if (headRequest || status === 304 || status === 204) {
      body = Buffer.alloc(0)
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length'])
      while (this.buffer.length < length && !this.closed) await this.more()
      body = this.buffer.subarray(0, length)
      this.buffer = this.buffer.subarray(length)
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = []
      for (;;) {
        let lineEnd: number
        while ((lineEnd = this.buffer.indexOf('\r\n')) === -1 && !this.closed) await this.more()
        if (lineEnd === -1) break
        const size = parseInt(this.buffer.subarray(0, lineEnd).toString('latin1'), 16)
        while (this.buffer.length < lineEnd + 2 + size + 2 && !this.closed) await this.more()
        parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
        this.buffer = this.buffer.subarray(lineEnd + 2 + size + 2)
        if (size === 0) break
      }
      body = Buffer.concat(parts)
    } else {
      while (!this.closed) await this.more()
      body = this.buffer
      this.buffer = Buffer.alloc(0)
    }
    if (/close/i.test(headers.connection ?? '')) this.close()
    return { status, headers, body }
  }
}
