// express-rate-limit on express@5 and on xypriss: RateLimit headers, 429 after the limit, keyed by client IP.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const { rateLimit } = require('express-rate-limit')

function build(framework: any) {
  const app = framework()
  const limiter = rateLimit({ windowMs: 60_000, limit: 2, standardHeaders: 'draft-7', legacyHeaders: false, message: { error: 'slow down' } })
  app.use('/api', limiter)
  app.get('/api/x', (req: any, res: any) => res.send('ok'))
  app.get('/free', (req: any, res: any) => res.send('free'))
  return { app, limiter }
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`express-rate-limit on ${name}`, () => {
    let server: Running
    let limiter: any
    const errors = vi.spyOn(console, 'error')
    beforeAll(async () => {
      const built = build(framework)
      limiter = built.limiter
      server = await listen(built.app)
    })
    afterAll(() => server.close())

    it('counts per client IP, sends RateLimit headers, then 429', async () => {
      const a = await request(server.port, 'GET', '/api/x')
      const b = await request(server.port, 'GET', '/api/x')
      const c = await request(server.port, 'GET', '/api/x')
      expect([a.status, b.status, c.status]).toEqual([200, 200, 429])
      expect(a.headers.ratelimit).toBe('limit=2, remaining=1, reset=60')
      expect(b.headers.ratelimit).toBe('limit=2, remaining=0, reset=60')
      expect(c.headers.ratelimit).toBe('limit=2, remaining=0, reset=60')
      expect(a.headers['ratelimit-policy']).toBe('2;w=60')
      expect(c.headers['retry-after']).toBe('60')
      expect(a.headers['x-ratelimit-limit']).toBeUndefined()
      expect(JSON.parse(c.body.toString())).toEqual({ error: 'slow down' })
      // the default key generator read req.ip, which must be the peer address
      expect((await limiter.getKey('127.0.0.1'))?.totalHits).toBe(3)
      // and express-rate-limit's own validations found nothing wrong with the request
      expect(errors.mock.calls.map((c) => String(c[0]?.code ?? c[0]))).toEqual([])
    })

    it('leaves other paths unlimited, and resetKey restores access', async () => {
      expect((await request(server.port, 'GET', '/free')).status).toBe(200)
      await limiter.resetKey('127.0.0.1')
      expect((await request(server.port, 'GET', '/api/x')).status).toBe(200)
    })
  })
}
