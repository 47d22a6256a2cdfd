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

describe('req.acceptsLanguages', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.json(out(req.acceptsLanguages('en', 'fr'))))
      app.get('/array', (req: any, res: any) => res.json(out(req.acceptsLanguages(['fr-CA', 'en-US']))))
      app.get('/list', (req: any, res: any) => res.json(out(req.acceptsLanguages())))
      return app
    },
    [
      ['GET', '/', {}, 'en'],
      ['GET', '/', { 'accept-language': 'fr;q=0.9, en;q=0.8' }, 'fr'],
      ['GET', '/', { 'accept-language': 'en-US' }, 'en'],
      ['GET', '/', { 'accept-language': 'de' }, false],
      ['GET', '/array', { 'accept-language': 'en-US, fr-CA;q=0.5' }, 'en-US'],
      ['GET', '/list', { 'accept-language': 'fr;q=0.5, de' }, ['de', 'fr']],
      ['GET', '/list', {}, ['*']],
    ],
  )
})
