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

describe('req.get', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.json(out([req.get('Content-Type'), req.header('x-multi'), req.get('Referrer'), req.get('referer')])))
      app.get('/bad', (req: any, res: any) => {
        const errors = [() => req.get(), () => req.get(''), () => req.get(42)].map((f) => {
          try {
            f()
            return 'no error'
          } catch (e: any) {
            return e.message
          }
        })
        res.json(out(errors))
      })
      return app
    },
    [
      ['GET', '/', { 'content-type': 'text/plain', 'x-multi': 'a', referer: 'http://r/' }, ['text/plain', 'a', 'http://r/', 'http://r/']],
      ['GET', '/', {}, [null, null, null, null]],
      [
        'GET',
        '/bad',
        {},
        ['name argument is required to req.get', 'name argument is required to req.get', 'name must be a string to req.get'],
      ],
    ],
  )
})
