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

function build(offset: number | undefined, trust = false) {
  return (framework: any) => {
    const app = framework()
    if (offset !== undefined) app.set('subdomain offset', offset)
    app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.subdomains)))
    return app
  }
}

describe('req.subdomains', () => {
  describe('default offset (2)', () => {
    differential(build(undefined), [
      ['GET', '/', { host: 'tobi.ferrets.example.com' }, ['ferrets', 'tobi']],
      ['GET', '/', { host: 'example.com:3000' }, []],
      ['GET', '/', { host: 'a.b.example.com:3000' }, ['b', 'a']],
      ['GET', '/', { host: '127.0.0.1' }, []],
      ['GET', '/', { host: '[::1]:80' }, []],
    ])
  })
  describe('offset 1', () => {
    differential(build(1), [['GET', '/', { host: 'tobi.ferrets.localhost' }, ['ferrets', 'tobi']]])
  })
  describe('offset 0, an IP address', () => {
    differential(build(0), [['GET', '/', { host: '127.0.0.1:3000' }, ['127.0.0.1']]])
  })
  describe('behind a trusted proxy', () => {
    differential(build(undefined, true), [
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'x.y.example.org' }, ['y', 'x']],
    ])
  })
})
