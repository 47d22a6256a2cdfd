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

function build(parser: unknown) {
  return (framework: any) => {
    const app = framework()
    if (parser !== undefined) app.set('query parser', parser)
    app.get('/', (req: any, res: any) => res.json(out({ query: req.query, nullProto: Object.getPrototypeOf(req.query) === null })))
    return app
  }
}

describe('req.query', () => {
  describe("'simple' (default)", () => {
    differential(build(undefined), [
      ['GET', '/?a=1&a=2&b[c]=3', {}, { query: { a: ['1', '2'], 'b[c]': '3' }, nullProto: true }],
      ['GET', '/', {}, { query: {}, nullProto: true }],
    ])
  })
  describe("'extended'", () => {
    differential(build('extended'), [['GET', '/?b[c]=3&d[]=x', {}, { query: { b: { c: '3' }, d: ['x'] }, nullProto: false }]])
  })
  describe('disabled', () => {
    differential(build(false), [['GET', '/?a=1', {}, { query: {}, nullProto: true }]])
  })
  describe('a custom function', () => {
    differential(build((s: string) => ({ raw: s })), [['GET', '/?x=1&y', {}, { query: { raw: 'x=1&y' }, nullProto: false }]])
  })
})
