// res.location: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
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
  app.get('/', (req: any, res: any) => res.location('/path/to/somewhere').end())
  app.get('/encode', (req: any, res: any) => res.location('/é space?q=a b&x=%20#frag ment').end())
  app.get('/url', (req: any, res: any) => res.location('https://example.com/ü').end())
  app.get('/back', (req: any, res: any) => res.location('back').end())
  app.get('/chain', (req: any, res: any) => res.status(201).location('/made').send('ok'))
  app.get('/unsafe', (req: any, res: any) => res.location('/a\r\nX-Injected: 1').end())
  return app
}

describe('res.location', () => {
  differential(build, [
    ['sets Location', 'GET', '/', {}, (r) => expect(r.headers.location).toBe('/path/to/somewhere')],
    ['encodes, keeping existing escapes', 'GET', '/encode', {}, (r) => expect(r.headers.location).toBe('/%C3%A9%20space?q=a%20b&x=%20#frag%20ment')],
    ['absolute URL', 'GET', '/url'],
    ["'back' is a literal path in Express 5", 'GET', '/back', { headers: { referer: 'http://example.com/from' } }, (r) => expect(r.headers.location).toBe('back')],
    ['chains', 'GET', '/chain'],
    ['CR LF are encoded, not injected', 'GET', '/unsafe', {}, (r) => expect(r.headers['x-injected']).toBeUndefined()],
  ])
})
