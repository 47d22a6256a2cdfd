// res.links: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
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
    res.links({ next: 'http://api.example.com/users?page=2', last: 'http://api.example.com/users?page=5' }).end(),
  )
  app.get('/twice', (req: any, res: any) => res.links({ next: '/2' }).links({ prev: '/0' }).end())
  app.get('/array', (req: any, res: any) => res.links({ pages: ['/1', '/2'], next: '/3' }).end())
  return app
}

describe('res.links', () => {
  differential(build, [
    ['sets Link', 'GET', '/', {}, (r) =>
      expect(r.headers.link).toBe('<http://api.example.com/users?page=2>; rel="next", <http://api.example.com/users?page=5>; rel="last"')],
    ['appends on a second call', 'GET', '/twice', {}, (r) => expect(r.headers.link).toBe('</2>; rel="next", </0>; rel="prev"')],
    ['several links per rel', 'GET', '/array', {}, (r) => expect(r.headers.link).toBe('</1>; rel="pages", </2>; rel="pages", </3>; rel="next"')],
  ])
})
