import http from 'node:http'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, raw, request, xypriss, type Running } from './helpers'

let running: Running

beforeAll(async () => {
  const app = xypriss()
  app.get('/who', (req: any, res: any) => res.json({ port: req.socket.remotePort, url: req.url }))
  app.get('/n/:n', (req: any, res: any) => res.send(`n=${req.params.n}`))
  app.get('/reason', (req: any, res: any) => {
    res.statusMessage = 'All Good'
    res.end('ok')
  })
  running = await listen(app)
})
afterAll(() => running.close())

describe('connections', () => {
  it('keeps a connection alive across requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const first = JSON.parse((await request(running.port, 'GET', '/who', { agent })).body.toString())
    const second = JSON.parse((await request(running.port, 'GET', '/who', { agent })).body.toString())
    agent.destroy()
    expect(second.port).toBe(first.port)
  })

  it('announces kept-alive connections as Node does, and closing ones too', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const kept = await request(running.port, 'GET', '/n/1', { agent })
    agent.destroy()
    expect(kept.headers.connection).toBe('keep-alive')
    expect(kept.headers['keep-alive']).toBe('timeout=5')
    const closing = await request(running.port, 'GET', '/n/1', { headers: { connection: 'close' } })
    expect(closing.headers.connection).toBe('close')
    expect(closing.headers['keep-alive']).toBeUndefined()
  })

  it('sends a custom status message on the status line', async () => {
    const text = await raw(running.port, 'GET /reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(text).toMatch(/^HTTP\/1\.1 200 All Good\r\n/)
  })

  it('answers pipelined requests in order', async () => {
    const text = await raw(
      running.port,
      'GET /n/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /n/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /n/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    )
    const bodies = [...text.matchAll(/n=(\d)/g)].map((m) => m[1])
    expect(bodies).toEqual(['1', '2', '3'])
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3)
  })

  it('serves 1,000 concurrent requests', async () => {
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => request(running.port, 'GET', `/n/${i}`)),
    )
    replies.forEach((r, i) => {
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe(`n=${i}`)
    })
  })

  it('reports the client address on req.socket', async () => {
    const reply = await request(running.port, 'GET', '/who')
    expect(JSON.parse(reply.body.toString()).port).toBeGreaterThan(0)
  })

  it('answers a malformed request with 400, without dispatching it, and keeps serving', async () => {
    const before = xypriss.engineStats().requests
    const text = await raw(running.port, 'GET /n/1 HTTP/1.1\r\nHost x\r\n\r\n')
    expect(text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(xypriss.engineStats().requests).toBe(before)
    expect((await request(running.port, 'GET', '/n/5')).body.toString()).toBe('n=5')
  })

  // 431 is written, but the client may see the reset first: unread bytes are still in flight.
  it('refuses headers over 16 KiB without dispatching them', async () => {
    const before = xypriss.engineStats().requests
    const text = await raw(running.port, `GET /n/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expect(text).toMatch(/^(HTTP\/1\.1 431[\s\S]*)?$/)
    expect(xypriss.engineStats().requests).toBe(before)
    expect((await request(running.port, 'GET', '/n/7')).body.toString()).toBe('n=7')
  })

  it('closes a CONNECT request when nothing listens for it, as Node does', async () => {
    const text = await raw(running.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
    expect(text).toBe('')
    expect((await request(running.port, 'GET', '/n/6')).status).toBe(200)
  })
})

describe('server.closeAllConnections()', () => {
  for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as const) {
    it(`closes busy and idle connections at once and keeps listening (${name})`, async () => {
      const app = framework()
      app.get('/hang', () => {})
      app.get('/ok', (req: any, res: any) => res.send('ok'))
      const server = await listen(app)
      // One idle kept-alive connection, one waiting on a handler that never answers.
      const idle = net.connect(server.port, '127.0.0.1')
      await new Promise((r) => idle.once('connect', r))
      idle.write('GET /ok HTTP/1.1\r\nHost: t\r\n\r\n')
      await new Promise((r) => idle.once('data', r))
      const hanging = raw(server.port, 'GET /hang HTTP/1.1\r\nHost: t\r\n\r\n', undefined, 5000)
      await new Promise((r) => setTimeout(r, 100))
      const idleClosed = new Promise((r) => idle.once('close', r))
      server.server.closeAllConnections()
      expect(await hanging).toBe('')
      await idleClosed
      // Still listening: a new connection is served.
      expect((await request(server.port, 'GET', '/ok')).body.toString()).toBe('ok')
      await server.close()
    })
  }
})

describe('server.keepAliveTimeout', () => {
  for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as const) {
    it(`is announced as Keep-Alive: timeout=N, even when set after listen(), and not at all when 0 (${name})`, async () => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.send('ok'))
      const server = await listen(app)
      const keepAliveHeader = async () => {
        const text = await raw(server.port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', (t) => t.endsWith('ok'))
        return /\r\nKeep-Alive: ([^\r]*)\r\n/.exec(text)?.[1] ?? null
      }
      expect(await keepAliveHeader()).toBe('timeout=5')
      server.server.keepAliveTimeout = 65_000
      expect(server.server.keepAliveTimeout).toBe(65_000)
      expect(await keepAliveHeader()).toBe('timeout=65')
      server.server.keepAliveTimeout = 0
      expect(await keepAliveHeader()).toBe(null)
      await server.close()
    })
  }
})
