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

describe('req.range', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => {
        const range = req.range(120)
        res.json(out(Array.isArray(range) ? { type: range.type, ranges: [...range] } : range))
      })
      app.get('/combine', (req: any, res: any) => {
        const range = req.range(120, { combine: true })
        res.json(out(Array.isArray(range) ? { type: range.type, ranges: [...range] } : range))
      })
      return app
    },
    [
      ['GET', '/', {}, '<undefined>'],
      ['GET', '/', { range: 'bytes=0-49' }, { type: 'bytes', ranges: [{ start: 0, end: 49 }] }],
      ['GET', '/', { range: 'bytes=-10' }, { type: 'bytes', ranges: [{ start: 110, end: 119 }] }],
      ['GET', '/', { range: 'bytes=100-' }, { type: 'bytes', ranges: [{ start: 100, end: 119 }] }],
      ['GET', '/', { range: 'bytes=0-1,5-9' }, { type: 'bytes', ranges: [{ start: 0, end: 1 }, { start: 5, end: 9 }] }],
      ['GET', '/', { range: 'bytes=500-600' }, -1],
      ['GET', '/', { range: 'nonsense' }, -2],
      ['GET', '/combine', { range: 'bytes=0-4,2-9' }, { type: 'bytes', ranges: [{ start: 0, end: 9 }] }],
    ],
  )
})
