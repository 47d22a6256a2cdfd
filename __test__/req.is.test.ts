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

describe('req.is', () => {
  differential(
    (framework) => {
      const app = framework()
      app.all('/json', (req: any, res: any) => res.json(out(req.is('json'))))
      app.post('/many', (req: any, res: any) => res.json(out(req.is('html', 'application/*'))))
      app.post('/array', (req: any, res: any) => res.json(out(req.is(['text/*', 'urlencoded']))))
      app.post('/none', (req: any, res: any) => res.json(out(req.is())))
      return app
    },
    [
      ['POST', '/json', { 'content-type': 'application/json; charset=utf-8', 'content-length': '0' }, 'json'],
      ['POST', '/json', { 'content-type': 'text/html', 'content-length': '0' }, false],
      ['POST', '/json', {}, false], // a chunked body without a type
      ['GET', '/json', {}, null], // no body at all
      ['POST', '/many', { 'content-type': 'application/vnd.api+json', 'content-length': '0' }, 'application/vnd.api+json'],
      ['POST', '/many', { 'content-type': 'text/html', 'content-length': '0' }, 'html'],
      ['POST', '/array', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }, 'urlencoded'],
      ['POST', '/array', { 'content-type': 'text/plain', 'content-length': '0' }, 'text/plain'],
      ['POST', '/none', { 'content-type': 'text/plain', 'content-length': '0' }, 'text/plain'],
    ],
  )
})
