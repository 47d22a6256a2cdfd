// res.jsonp: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
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
  app.get('/', (req: any, res: any) => res.jsonp({ count: 1 }))
  app.get('/null', (req: any, res: any) => res.jsonp(null))
  app.get('/undef', (req: any, res: any) => res.jsonp(undefined))
  app.get('/str', (req: any, res: any) => res.jsonp('line\u2028sep\u2029end'))
  app.get('/typed', (req: any, res: any) => res.type('text/x-custom').jsonp({ a: 1 }))
  app.get('/status', (req: any, res: any) => res.status(201).jsonp({ made: true }))
  const custom = framework()
  custom.set('jsonp callback name', 'cb')
  custom.set('json spaces', 2)
  custom.set('json escape', true)
  custom.get('/', (req: any, res: any) => res.jsonp({ html: '<b>&</b>' }))
  app.use('/custom', custom)
  return app
}

describe('res.jsonp', () => {
  differential(build, [
    ['plain JSON without a callback', 'GET', '/'],
    ['wraps in the callback', 'GET', '/?callback=something', {}, (r) => {
      expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8')
      expect(r.body.toString()).toBe('/**/ typeof something === \'function\' && something({"count":1});')
    }],
    ['strips unsafe callback characters', 'GET', '/?callback=foo;bar()%3Cx%3E[0].$y!'],
    ['first of repeated callbacks', 'GET', '/?callback=one&callback=two'],
    ['empty callback is ignored', 'GET', '/?callback='],
    ['null body', 'GET', '/null?callback=cb'],
    ['undefined body', 'GET', '/undef?callback=cb'],
    ['escapes U+2028 and U+2029', 'GET', '/str?callback=cb', {}, (r) => expect(r.body.toString()).toContain('\\u2028')],
    ['keeps a Content-Type set before', 'GET', '/typed'],
    ['keeps the status', 'GET', '/status?callback=cb'],
    ['callback name, spaces and escape settings', 'GET', '/custom?cb=fn&callback=ignored'],
    ['HEAD', 'HEAD', '/?callback=cb'],
  ])
})
