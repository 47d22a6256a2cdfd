// body-parser urlencoded (extended) on express@5 and on xypriss.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const bodyParser = require('body-parser')

function build(framework: any) {
  const app = framework()
  app.post('/form', bodyParser.urlencoded({ extended: true, limit: '1kb' }), (req: any, res: any) => res.json({ body: req.body ?? null }))
  app.use((err: any, req: any, res: any, next: any) => res.status(err.status).json({ type: err.type }))
  return app
}

const form = { 'content-type': 'application/x-www-form-urlencoded' }

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`body-parser urlencoded on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('parses nested objects and arrays (qs)', async () => {
      const body = 'user[name]=J%C3%B6rg&user[tags][]=a&user[tags][]=b&list[0]=x&list[1]=y&plain=1+2'
      const r = await request(server.port, 'POST', '/form', { headers: form, body })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toEqual({
        body: { user: { name: 'Jörg', tags: ['a', 'b'] }, list: ['x', 'y'], plain: '1 2' },
      })
    })

    it('leaves other content types alone', async () => {
      const r = await request(server.port, 'POST', '/form', { headers: { 'content-type': 'text/plain' }, body: 'a=1' })
      expect(JSON.parse(r.body.toString())).toEqual({ body: null })
    })

    it('rejects a body over the limit with 413 entity.too.large', async () => {
      const r = await request(server.port, 'POST', '/form', { headers: form, body: 'a=' + 'x'.repeat(2000) })
      expect(r.status).toBe(413)
      expect(JSON.parse(r.body.toString())).toEqual({ type: 'entity.too.large' })
    })
  })
}
