// http-proxy-middleware on express@5 and on xypriss: requests proxied to a local upstream http server.
import http from 'node:http'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const { createProxyMiddleware } = require('http-proxy-middleware')

let upstream: http.Server
let upstreamPort = 0

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' })
        res.write('part1-')
        setTimeout(() => res.end('part2'), 10)
        return
      }
      const body = JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, xff: req.headers['x-forwarded-for'] ?? null, body: Buffer.concat(chunks).toString() })
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'x-upstream': 'yes', 'set-cookie': ['a=1', 'b=2'] })
      res.end(body)
    })
  })
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()))
  upstreamPort = (upstream.address() as any).port
})
afterAll(() => new Promise<void>((r) => upstream.close(() => r())))

function build(framework: any) {
  const app = framework()
  app.use('/api', createProxyMiddleware({ target: `http://127.0.0.1:${upstreamPort}`, changeOrigin: true, xfwd: true }))
  app.get('/local', (req: any, res: any) => res.send('local'))
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`http-proxy-middleware on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('GET is proxied with the mount path stripped, upstream headers and status back', async () => {
      const r = await request(server.port, 'GET', '/api/users?x=1')
      expect(r.status).toBe(200)
      expect(r.headers['x-upstream']).toBe('yes')
      expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2'])
      expect(JSON.parse(r.body.toString())).toEqual({
        method: 'GET',
        url: '/users?x=1',
        host: `127.0.0.1:${upstreamPort}`,
        xff: '127.0.0.1',
        body: '',
      })
    })

    it('POST streams the request body upstream', async () => {
      const payload = 'x'.repeat(100_000)
      const r = await request(server.port, 'POST', '/api/echo', { headers: { 'content-type': 'text/plain' }, body: payload })
      expect(r.status).toBe(201)
      const out = JSON.parse(r.body.toString())
      expect(out.method).toBe('POST')
      expect(out.body).toBe(payload)
    })

    it('a streamed upstream response arrives whole; other routes still work', async () => {
      const r = await request(server.port, 'GET', '/api/stream')
      expect(r.body.toString()).toBe('part1-part2')
      expect((await request(server.port, 'GET', '/local')).body.toString()).toBe('local')
    })
  })
}
