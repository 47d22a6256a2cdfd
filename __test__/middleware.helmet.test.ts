// helmet on express@5 and on xypriss: its security headers, and x-powered-by removed.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const helmet = require('helmet')

function build(framework: any) {
  const app = framework()
  app.use(helmet({ contentSecurityPolicy: { directives: { 'script-src': ["'self'", 'cdn.example'] } } }))
  app.get('/', (req: any, res: any) => res.send('<p>hi</p>'))
  return app
}

const expected: Record<string, string> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`helmet on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('sets its headers and removes X-Powered-By', async () => {
      const r = await request(server.port, 'GET', '/')
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe('<p>hi</p>')
      for (const [header, value] of Object.entries(expected)) expect([header, r.headers[header]]).toEqual([header, value])
      const csp = String(r.headers['content-security-policy'])
      expect(csp).toContain("default-src 'self'")
      expect(csp).toContain("script-src 'self' cdn.example")
      expect(csp).toContain("object-src 'none'")
      expect(r.headers['x-powered-by']).toBeUndefined()
    })

    it('sets them on a 404 from the final handler too', async () => {
      const r = await request(server.port, 'GET', '/missing')
      expect(r.status).toBe(404)
      expect(r.headers['x-frame-options']).toBe('SAMEORIGIN')
      expect(r.headers['x-powered-by']).toBeUndefined()
    })
  })
}
