// connect-timeout on express@5 and on xypriss: a slow handler gets 503, a fast one is untouched.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const timeout = require('connect-timeout')

function build(framework: any, late: string[]) {
  const app = framework()
  app.get('/slow', timeout('100ms'), (req: any, res: any) => {
    setTimeout(() => {
      late.push(`timedout=${req.timedout}`)
      if (!req.timedout) res.send('late')
    }, 250)
  })
  app.get('/fast', timeout('1s'), (req: any, res: any) => res.send('fast'))
  app.get('/default', timeout('100ms'), () => {})
  app.use('/slow', (err: any, req: any, res: any, next: any) => res.status(err.status).json({ code: err.code, timeout: err.timeout, status: err.status }))
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`connect-timeout on ${name}`, () => {
    let server: Running
    const late: string[] = []
    beforeAll(async () => {
      server = await listen(build(framework, late))
    })
    afterAll(() => server.close())

    it('a slow handler gets 503 ETIMEDOUT, and sees req.timedout', async () => {
      const started = Date.now()
      const r = await request(server.port, 'GET', '/slow')
      expect(Date.now() - started).toBeLessThan(240)
      expect(r.status).toBe(503)
      expect(JSON.parse(r.body.toString())).toEqual({ code: 'ETIMEDOUT', timeout: 100, status: 503 })
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(late).toEqual(['timedout=true'])
    })

    it('the final handler answers 503 Response timeout', async () => {
      const r = await request(server.port, 'GET', '/default')
      expect(r.status).toBe(503)
      expect(r.body.toString()).toContain('Response timeout')
    })

    it('a fast handler is untouched', async () => {
      const r = await request(server.port, 'GET', '/fast')
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe('fast')
    })
  })
}
