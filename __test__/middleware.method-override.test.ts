// method-override on express@5 and on xypriss: the routed method comes from a header or a body field.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const methodOverride = require('method-override')

function build(framework: any) {
  const app = framework()
  app.use(methodOverride('X-HTTP-Method-Override'))
  app.use(framework.urlencoded({ extended: false }))
  app.use(
    methodOverride((req: any) => {
      if (req.body && typeof req.body === 'object' && '_method' in req.body) {
        const method = req.body._method
        delete req.body._method
        return method
      }
    }),
  )
  app.delete('/item/:id', (req: any, res: any) => res.json({ method: req.method, original: req.originalMethod, id: req.params.id }))
  app.put('/item/:id', (req: any, res: any) => res.json({ method: req.method, original: req.originalMethod, body: req.body }))
  app.post('/item/:id', (req: any, res: any) => res.json({ method: req.method }))
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`method-override on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('POST with X-HTTP-Method-Override: DELETE is routed to app.delete', async () => {
      const r = await request(server.port, 'POST', '/item/7', { headers: { 'x-http-method-override': 'DELETE' } })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toEqual({ method: 'DELETE', original: 'POST', id: '7' })
      expect(String(r.headers.vary)).toMatch(/X-HTTP-Method-Override/)
    })

    it('POST with a _method form field is routed to app.put', async () => {
      const r = await request(server.port, 'POST', '/item/7', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '_method=PUT&name=x',
      })
      expect(JSON.parse(r.body.toString())).toEqual({ method: 'PUT', original: 'POST', body: { name: 'x' } })
    })

    it('only POST is overridden', async () => {
      const r = await request(server.port, 'GET', '/item/7', { headers: { 'x-http-method-override': 'DELETE' } })
      expect(r.status).toBe(404)
      const plain = await request(server.port, 'POST', '/item/7')
      expect(JSON.parse(plain.body.toString())).toEqual({ method: 'POST' })
    })
  })
}
