// cors on express@5 and on xypriss: preflight and simple-request headers.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const cors = require('cors')

function build(framework: any) {
  const app = framework()
  app.get('/list', cors({ origin: ['http://ok.example'] }), (req: any, res: any) => res.json({ list: true }))
  app.use(cors({ origin: 'http://a.example', credentials: true, exposedHeaders: ['X-Total'], maxAge: 600 }))
  app.get('/r', (req: any, res: any) => res.set('X-Total', '3').json({ ok: true }))
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`cors on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('answers a preflight with 204 and the allow-* headers', async () => {
      const r = await request(server.port, 'OPTIONS', '/r', {
        headers: { origin: 'http://a.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-custom' },
      })
      expect(r.status).toBe(204)
      expect(r.headers['access-control-allow-origin']).toBe('http://a.example')
      expect(r.headers['access-control-allow-credentials']).toBe('true')
      expect(r.headers['access-control-allow-methods']).toBe('GET,HEAD,PUT,PATCH,POST,DELETE')
      expect(r.headers['access-control-allow-headers']).toBe('x-custom')
      expect(r.headers['access-control-max-age']).toBe('600')
      // cors sets Content-Length: 0 on its 204, and Node sends it as set.
      expect(r.headers['content-length']).toBe('0')
      expect(String(r.headers.vary)).toMatch(/Origin/)
      expect(String(r.headers.vary)).toMatch(/Access-Control-Request-Headers/)
      expect(r.body.length).toBe(0)
    })

    it('adds allow-origin, credentials and expose-headers to a simple request', async () => {
      const r = await request(server.port, 'GET', '/r', { headers: { origin: 'http://a.example' } })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toEqual({ ok: true })
      expect(r.headers['access-control-allow-origin']).toBe('http://a.example')
      expect(r.headers['access-control-allow-credentials']).toBe('true')
      expect(r.headers['access-control-expose-headers']).toBe('X-Total')
      expect(r.headers['x-total']).toBe('3')
      expect(String(r.headers.vary)).toMatch(/Origin/)
      expect(r.headers['access-control-allow-methods']).toBeUndefined()
    })

    it('reflects a whitelisted origin and omits the header for others', async () => {
      const ok = await request(server.port, 'GET', '/list', { headers: { origin: 'http://ok.example' } })
      expect(ok.headers['access-control-allow-origin']).toBe('http://ok.example')
      const evil = await request(server.port, 'GET', '/list', { headers: { origin: 'http://evil.example' } })
      expect(evil.status).toBe(200)
      expect(evil.headers['access-control-allow-origin']).toBeUndefined()
      expect(String(evil.headers.vary)).toMatch(/Origin/)
    })
  })
}
