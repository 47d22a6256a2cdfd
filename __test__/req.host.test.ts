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

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.host)))
    return app
  }
}

describe('req.host', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', { host: 'example.com:3000' }, 'example.com:3000'],
      ['GET', '/', { host: '[::1]:3000' }, '[::1]:3000'],
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'evil.com' }, 'example.com'],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'proxied.com:8080' }, 'proxied.com:8080'],
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'one.com , two.com' }, 'one.com'],
      ['GET', '/', { host: 'example.com' }, 'example.com'],
    ])
  })
})
