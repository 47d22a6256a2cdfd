// res.vary: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
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
  app.get('/one', (req: any, res: any) => res.vary('Origin').end())
  app.get('/many', (req: any, res: any) => res.vary(['Accept', 'Accept-Encoding']).vary('accept').end())
  app.get('/append', (req: any, res: any) => res.set('Vary', 'Cookie').vary('Origin').end())
  app.get('/star', (req: any, res: any) => res.vary('*').vary('Origin').end())
  app.get('/empty', (req: any, res: any) => res.vary([]).end())
  app.get('/bad', (req: any, res: any) => {
    try {
      res.vary('bad header')
      res.end('no throw')
    } catch (e: any) {
      res.end(e.constructor.name + ': ' + e.message)
    }
  })
  return app
}

describe('res.vary', () => {
  differential(build, [
    ['one field', 'GET', '/one', {}, (r) => expect(r.headers.vary).toBe('Origin')],
    ['list, no duplicates in any case', 'GET', '/many', {}, (r) => expect(r.headers.vary).toBe('Accept, Accept-Encoding')],
    ['appends to an existing Vary', 'GET', '/append', {}, (r) => expect(r.headers.vary).toBe('Cookie, Origin')],
    ['* absorbs the rest', 'GET', '/star', {}, (r) => expect(r.headers.vary).toBe('*')],
    ['empty list sets nothing', 'GET', '/empty', {}, (r) => expect(r.headers.vary).toBeUndefined()],
    ['invalid field name throws', 'GET', '/bad', {}, (r) => expect(r.body.toString()).toMatch(/^TypeError/)],
  ])
})
