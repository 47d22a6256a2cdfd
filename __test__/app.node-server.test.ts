// The app as a plain listener of Node's own http server: slower, but Express's behaviour.
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, request, xypriss } from './helpers'

function build(framework: any) {
  const app = framework()
  app.use(framework.json())
  app.get('/json', (req: any, res: any) => res.json({ hello: 'world', ip: typeof req.ip, path: req.path, q: req.query }))
  app.post('/echo', (req: any, res: any) => res.status(201).json(req.body))
  app.get('/redirect', (req: any, res: any) => res.redirect('/json'))
  app.get('/cookie', (req: any, res: any) => res.cookie('a', 'b', { httpOnly: true }).send('set'))
  app.get('/fresh', (req: any, res: any) => res.send('cache me'))
  app.get('/throw', () => {
    throw new Error('boom')
  })
  return app
}

function serve(app: any): Promise<{ port: number; server: http.Server }> {
  return new Promise((resolve) => {
    const server = http.createServer(app)
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as any).port, server }))
  })
}

let ours: { port: number; server: http.Server }
let theirs: { port: number; server: http.Server }
const env = process.env.NODE_ENV

beforeAll(async () => {
  process.env.NODE_ENV = 'production'
  ours = await serve(build(xypriss))
  theirs = await serve(build(express))
})
afterAll(() => {
  process.env.NODE_ENV = env
  ours.server.close()
  theirs.server.close()
})

const cases: Array<[string, string, any?]> = [
  ['GET', '/json?x=1'],
  ['POST', '/echo', { headers: { 'content-type': 'application/json' }, body: '{"a":[1]}' }],
  ['GET', '/redirect'],
  ['GET', '/cookie'],
  ['GET', '/fresh', { headers: { 'if-none-match': 'W/"8-0l3vdyVZaNSYhYEhY8I6vXOD2hg"' } }],
  ['GET', '/throw'],
  ['GET', '/missing'],
]

describe('http.createServer(app)', () => {
  for (const [method, path, options] of cases) {
    it(`${method} ${path} matches express@5`, async () => {
      const [a, b] = await Promise.all([request(theirs.port, method, path, options), request(ours.port, method, path, options)])
      expect(b.status).toBe(a.status)
      expect(b.body.toString()).toBe(a.body.toString())
      for (const h of ['content-type', 'content-length', 'etag', 'location', 'set-cookie', 'x-powered-by']) {
        expect([h, b.headers[h]]).toEqual([h, a.headers[h]])
      }
    })
  }
})
