import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

type Case = [method: string, path: string, headers: Record<string, string>, expected: unknown]

/** The same app on express@5 and on xypriss: each reply must equal the expected value, on both. */
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
  for (const [method, path, headers, expected] of cases) {
    it(`${method} ${path} ${JSON.stringify(headers)}`, async () => {
      const [a, b] = await Promise.all([
        request(onExpress.port, method, path, { headers }),
        request(onXypriss.port, method, path, { headers }),
      ])
      const got = (r: typeof a) => ({ status: r.status, body: r.body.length ? JSON.parse(r.body.toString()) : null })
      expect(got(a)).toEqual({ status: 200, body: { v: expected } })
      expect(got(b)).toEqual(got(a))
    })
  }
}

/** JSON-safe: undefined stays visible. */
const out = (value: unknown) => ({ v: value === undefined ? '<undefined>' : value })

describe('req.accepts', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/one', (req: any, res: any) => res.json(out(req.accepts('html'))))
      app.get('/many', (req: any, res: any) => res.json(out(req.accepts('json', 'text'))))
      app.get('/array', (req: any, res: any) => res.json(out(req.accepts(['text/html', 'application/json']))))
      app.get('/list', (req: any, res: any) => res.json(out(req.accepts())))
      return app
    },
    [
      ['GET', '/one', {}, 'html'],
      ['GET', '/one', { accept: 'text/html' }, 'html'],
      ['GET', '/one', { accept: 'application/json' }, false],
      ['GET', '/many', { accept: 'text/plain, application/json;q=0.5' }, 'text'],
      ['GET', '/many', { accept: 'application/json, text/plain;q=0.5' }, 'json'],
      ['GET', '/many', { accept: 'image/png' }, false],
      ['GET', '/array', { accept: 'application/*' }, 'application/json'],
      ['GET', '/array', { accept: '*/*' }, 'text/html'],
      ['GET', '/list', { accept: 'text/html;q=0.1, application/json' }, ['application/json', 'text/html']],
      ['GET', '/list', {}, ['*/*']],
    ],
  )
})
