import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path, { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { express, listen, request, xypriss } from './helpers'

describe('listen and close', () => {
  it('reports EADDRINUSE like Node, to the callback and as an error event', async () => {
    const first = await listen(xypriss())
    const error: any = await new Promise((resolve) => {
      xypriss().listen(first.port, '127.0.0.1', (err: any) => resolve(err))
    })
    expect(error.code).toBe('EADDRINUSE')
    expect(error.syscall).toBe('listen')
    expect(error.port).toBe(first.port)
    const server = xypriss.createHttpServer()
    const evented: any = await new Promise((resolve) => server.on('error', resolve).listen(first.port, '127.0.0.1'))
    expect(evented.code).toBe('EADDRINUSE')
    await first.close()
  })

  it('listens on port 0, IPv4 and IPv6, and reports the address', async () => {
    const app = xypriss()
    app.get('/', (req: any, res: any) => res.send(req.socket.localAddress))
    const v4 = await listen(app, '127.0.0.1')
    expect(v4.server.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' })
    expect(v4.port).toBeGreaterThan(0)
    expect((await request(v4.port, 'GET', '/')).body.toString()).toBe('127.0.0.1')
    await v4.close()
    const v6 = await listen(app, '::1')
    expect(v6.server.address()).toMatchObject({ address: '::1', family: 'IPv6' })
    await v6.close()
  })

  it('lets the process exit once the server is closed', () => {
    const script = `
      const xypriss = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.cjs'))})
      const app = xypriss()
      app.get('/', (req, res) => res.send('bye'))
      const server = app.listen(0, '127.0.0.1', async () => {
        const r = await fetch('http://127.0.0.1:' + server.address().port + '/')
        console.log(await r.text())
        server.close(() => console.log('closed'))
      })`
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 })
    expect(result.error).toBeUndefined()
    expect(result.status).toBe(0)
    expect(result.stdout).toBe('bye\nclosed\n')
  })

  it('keeps the process alive while listening, and not after unref()', () => {
    const script = `
      const xypriss = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.cjs'))})
      const server = xypriss().listen(0, '127.0.0.1', () => { server.unref(); console.log('up') })`
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 })
    expect(result.status).toBe(0)
    expect(result.stdout).toBe('up\n')
  })

  it('finishes an in-flight request during close()', async () => {
    const app = xypriss()
    app.get('/slow', (req: any, res: any) => setTimeout(() => res.send('late'), 200))
    const running = await listen(app)
    const pending = request(running.port, 'GET', '/slow')
    await new Promise((r) => setTimeout(r, 50))
    const closed = running.close()
    const reply = await pending
    await closed
    expect(reply.body.toString()).toBe('late')
  })

  it('has a _handle while listening and none once closed, as Node (supertest@6 closes its server only then)', async () => {
    const server = xypriss.createHttpServer((req: any, res: any) => res.end('ok'))
    expect(server._handle).toBeNull()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    expect(server._handle).toBeTruthy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    expect(server._handle).toBeNull()
  })

  it('createHttpServer(app) mirrors the app routes as app.listen() does: a miss never wakes JS', async () => {
    const app = xypriss()
    app.get('/here', (req: any, res: any) => res.send('here'))
    const server = xypriss.createHttpServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = server.address().port
    expect((await request(port, 'GET', '/here')).status).toBe(200)
    expect((await request(port, 'GET', '/nowhere')).status).toBe(404)
    expect(server.requests).toBe(1)
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
})

describe('listen(path): a Unix socket', () => {
  for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as const) {
    it(`serves over the socket, reports the path as address, removes it on close (${name})`, async () => {
      const path = join(tmpdir(), `xypriss-${name}-${process.pid}.sock`)
      rmSync(path, { force: true })
      const app = framework()
      app.get('/who', (req: any, res: any) => res.json({ ip: req.ip ?? null, remote: req.socket.remoteAddress ?? null, url: req.url }))
      const server = await new Promise<any>((resolve, reject) => {
        const s = app.listen(path, (err?: Error) => (err ? reject(err) : resolve(s)))
      })
      expect(server.address()).toBe(path)
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: path, path: '/who' }, (res) => {
          let text = ''
          res.on('data', (c) => (text += c))
          res.on('end', () => resolve(text))
        }).on('error', reject)
      })
      expect(JSON.parse(body)).toEqual({ ip: null, remote: null, url: '/who' })
      // A second listen on the same path fails as Node's does.
      const error = await new Promise<any>((resolve) => framework().listen(path).on('error', resolve))
      expect(error.code).toBe('EADDRINUSE')
      await new Promise<void>((r) => server.close(() => r()))
      expect(existsSync(path)).toBe(false)
    })
  }
})

describe('the server app.listen() returns', () => {
  it("is an http.Server (and net.Server) with Node's option properties, as libraries taking a server expect", async () => {
    const names = ['listening', 'timeout', 'keepAliveTimeout', 'requestTimeout', 'maxHeadersCount', 'maxRequestsPerSocket',
      'connectionsCheckingInterval', 'highWaterMark', 'requireHostHeader', 'rejectNonStandardBodyWrites', 'noDelay',
      'keepAlive', 'keepAliveInitialDelay']
    const describeServer = async (framework: any) => {
      const running = await listen(framework())
      const { server } = running
      const seen = {
        http: server instanceof http.Server,
        net: server instanceof (await import('node:net')).Server,
        values: Object.fromEntries(names.map((n) => [n, server[n]])),
        methods: ['close', 'closeAllConnections', 'closeIdleConnections', 'address', 'getConnections', 'ref', 'unref', 'setTimeout'].map((m) => typeof server[m]),
      }
      await running.close()
      return seen
    }
    const a = await describeServer(express)
    expect(a.http && a.net).toBe(true)
    expect(await describeServer(xypriss)).toEqual(a)
  })
})
