// res.clearCookie: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
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
  app.get('/', (req: any, res: any) => res.clearCookie('sid').end())
  app.get('/path', (req: any, res: any) => res.clearCookie('sid', { path: '/admin', domain: 'example.com', httpOnly: true }).end())
  app.get('/maxage', (req: any, res: any) => res.clearCookie('sid', { maxAge: 60_000 }).end())
  app.get('/expires', (req: any, res: any) => res.clearCookie('sid', { expires: new Date(Date.UTC(2030, 0, 1)) }).end())
  app.get('/signed', (req: any, res: any) => {
    req.secret = 'sekrit'
    res.clearCookie('sid', { signed: true }).end()
  })
  return app
}

describe('res.clearCookie', () => {
  differential(build, [
    ['expires in 1970, Path=/', 'GET', '/', {}, (r) => expect(r.headers['set-cookie']).toEqual(['sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT'])],
    ['keeps path, domain and flags', 'GET', '/path'],
    ['maxAge is dropped', 'GET', '/maxage', {}, (r) => expect(r.headers['set-cookie']![0]).not.toContain('Max-Age')],
    ['expires cannot be overridden', 'GET', '/expires', {}, (r) => expect(r.headers['set-cookie']![0]).toContain('1970')],
    ['signed clears with a signed empty value', 'GET', '/signed'],
  ])
})
