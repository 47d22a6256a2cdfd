import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { listen, raw, waitFor, xypriss, express, type Running } from './helpers'

// Connections handed over to 'upgrade' and 'connect' listeners, the same app on express@5 and
// xypriss: WebSockets through the ws package, a raw 101 written by hand, a CONNECT tunnel.

interface Setup {
  running: Running
  wss: WebSocketServer
}

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')

async function start(framework: any): Promise<Setup> {
  const app = framework()
  app.get('/plain', (req: any, res: any) => res.send(`plain upgrade=${String(req.upgrade)}`))
  const running = await listen(app)
  const wss = new WebSocketServer({ noServer: true })
  wss.on('connection', (ws: WebSocket, req: any) => {
    ws.send(`hello ${req.url}`)
    ws.on('message', (m) => ws.send(`echo ${String(m)}`))
  })
  running.server.on('upgrade', (req: any, socket: any, head: Buffer) => {
    if (req.url.startsWith('/ws')) return wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
    if (req.url === '/head') {
      const text = `head=${head.toString('latin1')}`
      return socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`)
    }
    if (req.url === '/raw') {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n')
      socket.on('data', (d: Buffer) => socket.write(d))
      socket.on('end', () => socket.end())
      return
    }
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno')
  })
  running.server.on('connect', (req: any, socket: any, head: Buffer) => {
    const [host, port] = req.url.split(':')
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      // Bytes that came with the head.
      if (head.length > 0) upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
  })
  return { running, wss }
}

function chat(port: number, path: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = []
    const client = new WebSocket(`ws://127.0.0.1:${port}${path}`)
    client.on('message', (m) => {
      got.push(String(m))
      if (got.length === 1) client.send('abc')
      else if (got.length === 2) client.send(Buffer.alloc(100_000, 'z'))
      else client.close()
    })
    client.on('close', () => resolve(got.map((m) => (m.length > 100 ? `${m.slice(0, 10)}…(${m.length})` : m))))
    client.on('error', reject)
  })
}

describe('handing connections over', () => {
  const setups: Record<string, Setup> = {}
  let upstream: net.Server
  beforeAll(async () => {
    setups.express = await start(express)
    setups.xypriss = await start(xypriss)
    upstream = net.createServer((s) => s.pipe(s))
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()))
  })
  afterAll(async () => {
    for (const { running, wss } of Object.values(setups)) {
      wss.close()
      await running.close()
    }
    upstream.close()
  })

  it('WebSocket messages both ways, through ws', async () => {
    const a = await chat(setups.express.running.port, '/ws?x=1')
    const b = await chat(setups.xypriss.running.port, '/ws?x=1')
    expect(a).toEqual(['hello /ws?x=1', 'echo abc', `echo ${'z'.repeat(5)}…(100005)`])
    expect(b).toEqual(a)
  })

  it('a refused upgrade is the response the listener wrote', async () => {
    const payload = 'GET /nope HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'
    const a = await raw(setups.express.running.port, payload)
    const b = await raw(setups.xypriss.running.port, payload)
    expect(a).toBe('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno')
    expect(b).toBe(a)
  })

  it("bytes sent with the head are the listener's head argument", async () => {
    const payload = 'GET /head HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nknock, knock'
    const a = await raw(setups.express.running.port, payload)
    const b = await raw(setups.xypriss.running.port, payload)
    expect(a).toMatch(/head=knock, knock$/)
    expect(b).toBe(a)
  })

  it('a raw 101 then bytes echoed until the client ends', async () => {
    const payload = 'GET /raw HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'
    const exchange = (port: number) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1')
        let text = ''
        socket.on('data', (d) => {
          text += d.toString('latin1')
          if (text.endsWith('\r\n\r\n')) socket.end('ping')
        })
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
        socket.write(payload)
      })
    const a = await exchange(setups.express.running.port)
    const b = await exchange(setups.xypriss.running.port)
    expect(a).toBe('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nping')
    expect(b).toBe(a)
  })

  it('CONNECT tunnels to the upstream the listener dialled', async () => {
    const payload = `CONNECT 127.0.0.1:${(upstream.address() as net.AddressInfo).port} HTTP/1.1\r\nHost: t\r\n\r\nthrough`
    const until = (t: string) => t.endsWith('through')
    const a = await raw(setups.express.running.port, payload, until)
    const b = await raw(setups.xypriss.running.port, payload, until)
    expect(a).toBe('HTTP/1.1 200 Connection Established\r\n\r\nthrough')
    expect(b).toBe(a)
  })

  it('an Upgrade request to a server without an upgrade listener is an ordinary request', async () => {
    const build = (framework: any) => {
      const app = framework()
      app.get('/plain', (req: any, res: any) => res.send(`plain upgrade=${String(req.upgrade)}`))
      return listen(app)
    }
    const [e, x] = [await build(express), await build(xypriss)]
    const payload = 'GET /plain HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, close\r\nUpgrade: echo\r\n\r\n'
    const a = maskDate(await raw(e.port, payload))
    const b = maskDate(await raw(x.port, payload))
    expect(a).toContain('plain upgrade=false')
    expect(b).toBe(a)
    await e.close()
    await x.close()
  })

  it('leaves nothing in flight', async () => {
    await waitFor(() => xypriss.inFlight() === 0)
    expect(xypriss.inFlight()).toBe(0)
  })
})
