// res.format: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Reply, type Running } from './helpers'

// `framing: false`: the body's framing may differ (Content-Length where Node chunks after an explicit writeHead).
type Case = [title: string, method: string, path: string, options?: { headers?: Record<string, string>; body?: string; framing?: false }, check?: (r: Reply) => void]

const ignored = new Set(['date', 'connection', 'keep-alive'])
const framing = new Set(['content-length', 'transfer-encoding'])
const visible = (r: Reply, withFraming = true) =>
  Object.fromEntries(Object.entries(r.headers).filter(([k]) => !ignored.has(k) && (withFraming || !framing.has(k))))

/** The same app on express@5 and xypriss: every case must give the same status, body and headers. */
function differential(build: (framework: any) => any, cases: Case[]) {
  let onExpress: Running
  let onXypriss: Running
  beforeAll(async () => {
    onExpress = await listen(build(express))
    onXypriss = await listen(build(xypriss))
  })
  afterAll(async () => {
    await onExpress.close()
    await onXypriss.close()
  })
  for (const [title, method, path, options, check] of cases) {
    it(title, async () => {
      const a = await request(onExpress.port, method, path, options)
      const b = await request(onXypriss.port, method, path, options)
      expect(b.status).toBe(a.status)
      expect(b.body.toString('latin1')).toBe(a.body.toString('latin1'))
      expect(visible(b, options?.framing !== false)).toEqual(visible(a, options?.framing !== false))
      check?.(b)
    })
  }
}

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) =>
    res.format({
      'text/plain': () => res.send('plain'),
      'text/html': () => res.send('<p>html</p>'),
      'application/json': () => res.send({ json: true }),
    }),
  )
  app.get('/ext', (req: any, res: any) =>
    res.format({
      text: () => res.send('plain'),
      html: (rq: any, rs: any, next: any) => rs.send(typeof next + ' ' + (rq === req) + ' ' + (rs === res)),
      json: () => res.json({ json: true }),
    }),
  )
  app.get('/default', (req: any, res: any) =>
    res.format({
      json: () => res.json({ json: true }),
      default: () => res.status(406).send('fallback'),
    }),
  )
  app.get('/only-default', (req: any, res: any) => res.format({ default: () => res.send('default only') }))
  app.get('/params', (req: any, res: any) => res.format({ 'text/plain; charset=iso-8859-1': () => res.end('p') }))
  app.get('/vary', (req: any, res: any) => res.vary('Origin').format({ text: () => res.send('t') }))
  app.use((err: any, req: any, res: any, next: any) => res.status(err.status).json({ name: err.name, message: err.message, types: err.types, expose: err.expose }))
  return app
}

describe('res.format', () => {
  differential(build, [
    ['no Accept: first type', 'GET', '/'],
    ['exact type', 'GET', '/', { headers: { accept: 'application/json' } }],
    ['quality order', 'GET', '/', { headers: { accept: 'text/plain;q=0.5, text/html' } }],
    ['wildcard', 'GET', '/', { headers: { accept: 'text/*' } }],
    ['extensions as keys', 'GET', '/ext', { headers: { accept: 'application/json' } }],
    ['handler gets req, res, next', 'GET', '/ext', { headers: { accept: 'text/html' } }, (r) => expect(r.body.toString()).toBe('function true true')],
    ['406 error to next with the types', 'GET', '/ext', { headers: { accept: 'image/png' } }, (r) => {
      expect(r.status).toBe(406)
      expect(JSON.parse(r.body.toString())).toEqual({ name: 'NotAcceptableError', message: 'Not Acceptable', types: ['text/plain', 'text/html', 'application/json'], expose: true })
    }],
    ['default handler', 'GET', '/default', { headers: { accept: 'image/png' } }],
    ['only a default', 'GET', '/only-default', { headers: { accept: 'text/html' } }],
    ['type parameters dropped from Content-Type', 'GET', '/params'],
    ['Vary: Accept appended', 'GET', '/vary', {}, (r) => expect(r.headers.vary).toBe('Origin, Accept')],
  ])
})
