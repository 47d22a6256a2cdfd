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

/** Answers without the validators, so res.send's own freshness check (a 304) stays out of the way. */
function reply(res: any, value: boolean) {
  res.removeHeader('ETag')
  res.removeHeader('Last-Modified')
  res.json(out(value))
}

function build(framework: any) {
  const app = framework()
  app.get('/etag', (req: any, res: any) => {
    res.set('ETag', '"123"')
    reply(res, req.fresh)
  })
  app.get('/modified', (req: any, res: any) => {
    res.set('Last-Modified', 'Sat, 01 Jan 2000 00:00:00 GMT')
    reply(res, req.fresh)
  })
  app.get('/status', (req: any, res: any) => {
    res.set('ETag', '"123"')
    res.statusCode = 404
    const fresh = req.fresh
    reply(res.status(200), fresh)
  })
  app.post('/etag', (req: any, res: any) => {
    res.set('ETag', '"123"')
    reply(res, req.fresh)
  })
  return app
}

describe('req.fresh', () => {
  differential(build, [
    ['GET', '/etag', {}, false],
    ['GET', '/etag', { 'if-none-match': '"123"' }, true],
    ['GET', '/etag', { 'if-none-match': '"456"' }, false],
    ['GET', '/etag', { 'if-none-match': '"123"', 'cache-control': 'no-cache' }, false],
    ['GET', '/modified', { 'if-modified-since': 'Sun, 02 Jan 2000 00:00:00 GMT' }, true],
    ['GET', '/modified', { 'if-modified-since': 'Fri, 31 Dec 1999 00:00:00 GMT' }, false],
    ['GET', '/status', { 'if-none-match': '"123"' }, false],
    ['POST', '/etag', { 'if-none-match': '"123"' }, false],
  ])
})
