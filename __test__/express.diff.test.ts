// The same app on express@5 and on xypriss; status, body and the headers Express sets must agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/json', (req: any, res: any) => res.json({ hello: 'world' }))
  app.get('/users/:id', (req: any, res: any) => res.json({ id: req.params.id, q: req.query }))
  app.get('/files/*path', (req: any, res: any) => res.json(req.params))
  app.get('/opt{/:maybe}', (req: any, res: any) => res.json(req.params))
  app.post('/echo', framework.json(), (req: any, res: any) => res.json(req.body))
  app.put('/text', (req: any, res: any) => res.status(201).send('created'))
  app.delete('/gone', (req: any, res: any) => res.sendStatus(204))
  app.patch('/buf', (req: any, res: any) => res.send(Buffer.from('bytes')))
  app.get('/set', (req: any, res: any) => res.set('X-Custom', 'yes').set('Content-Type', 'text/plain').send('typed'))
  app.get('/get', (req: any, res: any) => res.send(String(req.get('x-in'))))
  app.trace('/trace', (req: any, res: any) => res.send('traced'))
  app.all('/any', (req: any, res: any) => res.send(req.method))
  const api = framework.Router()
  api.get('/items/:n', (req: any, res: any) => res.json({ base: req.baseUrl, n: req.params.n, url: req.url, orig: req.originalUrl }))
  app.use('/api', api)
  app.get('/next-route', (req: any, res: any, next: any) => next('route'), (req: any, res: any) => res.send('skipped'))
  app.get('/next-route', (req: any, res: any) => res.send('second'))
  app.get('/throw', () => {
    throw new Error('boom')
  })
  app.get('/bad-param/:p', (req: any, res: any) => res.send(req.params.p))
  return app
}

const cases: Array<[string, string, { headers?: Record<string, string>; body?: string }?]> = [
  ['GET', '/json'],
  ['GET', '/users/42?a=1&b=2'],
  ['GET', '/USERS/42/'],
  ['GET', '/files/a/b/c.txt'],
  ['GET', '/opt'],
  ['GET', '/opt/yes'],
  ['POST', '/echo', { headers: { 'content-type': 'application/json' }, body: '{"x":[1,2]}' }],
  ['POST', '/echo', { headers: { 'content-type': 'application/json' }, body: '{bad' }],
  ['PUT', '/text'],
  ['DELETE', '/gone'],
  ['PATCH', '/buf'],
  ['GET', '/set'],
  ['GET', '/get', { headers: { 'x-in': 'value' } }],
  ['TRACE', '/trace'],
  ['POST', '/any'],
  ['GET', '/api/items/7?z=1'],
  ['GET', '/next-route'],
  ['GET', '/nope'],
  ['POST', '/nope/deeper'],
  ['HEAD', '/json'],
  ['HEAD', '/nope'],
  ['OPTIONS', '/json'],
  ['OPTIONS', '/nope'],
  ['GET', '/json', { headers: { 'if-none-match': 'W/"11-IkjuL6CqqtmReFMfkkvwC0sKj04"' } }],
  ['GET', '/bad-param/%E0%A4%A'],
  ['GET', '/throw'],
]

const compared = ['content-type', 'content-length', 'etag', 'x-powered-by', 'allow', 'x-custom', 'content-security-policy', 'x-content-type-options', 'connection', 'keep-alive']

let onExpress: Running
let onXypriss: Running
const env = process.env.NODE_ENV

beforeAll(async () => {
  process.env.NODE_ENV = 'production' // error pages without stacks, which differ by file path
  onExpress = await listen(build(express))
  onXypriss = await listen(build(xypriss))
})
afterAll(async () => {
  process.env.NODE_ENV = env
  await onExpress.close()
  await onXypriss.close()
})

describe('differential: express@5 vs xypriss', () => {
  for (const [method, path, options] of cases) {
    it(`${method} ${path}`, async () => {
      const [a, b] = await Promise.all([
        request(onExpress.port, method, path, options),
        request(onXypriss.port, method, path, options),
      ])
      expect(b.status).toBe(a.status)
      expect(b.body.toString('latin1')).toBe(a.body.toString('latin1'))
      for (const name of compared) expect([name, b.headers[name]]).toEqual([name, a.headers[name]])
    })
  }
})
