// xypriss.cors(options): the cors package's headers and preflight answers, byte for byte, in the
// native prelude (top of the app) and as JS middleware; every option set cors was recorded with.
import { describe, expect, it } from 'vitest'
import { xypriss } from './helpers'
import { decode, fixture, npm, same, trio, type Req } from './native-stages'

/** What a `$function` in a recorded option set stands for. */
function functions(at: string): unknown {
  if (at === '') return (req: any, callback: any) => callback(null, { origin: true, credentials: req.headers['x-creds'] === '1' })
  return (origin: string | undefined, callback: any) => callback(null, origin === 'https://a.example' ? origin : false)
}

const common: Req[] = [
  { method: 'GET', path: '/text' },
  { method: 'GET', path: '/text', headers: { origin: 'https://a.example' } },
  { method: 'GET', path: '/nope', headers: { origin: 'https://a.example' } },
  { method: 'HEAD', path: '/text', headers: { origin: 'https://evil.example' } },
  { method: 'OPTIONS', path: '/only-put', headers: { origin: 'https://a.example', 'access-control-request-method': 'PUT' } },
  { method: 'OPTIONS', path: '/nope' },
  { method: 'GET', path: '/read', headers: { origin: 'https://a.example' } },
  { method: 'GET', path: '/change', headers: { origin: 'https://a.example' } },
  { method: 'POST', path: '/fail', headers: { origin: 'https://a.example' } },
]

describe('xypriss.cors', () => {
  for (const c of fixture.cors as any[]) {
    const options = () => decode(c.options, functions)
    const native = !JSON.stringify(c.options).includes('$function') && !['methods undefined', 'success status invalid', 'origin regexp global flag'].includes(c.name)
    it(`answers as cors in both placements: ${c.name}`, async () => {
      const t = await trio('cors', options, native)
      try {
        for (const r of c.requests as any[]) {
          const headers = Object.fromEntries((r.request.headers ?? []).map(([k, v]: [string, string]) => [k, v]))
          await same(t, { method: r.request.method, path: '/text', headers }, r.name)
        }
        for (const req of common) await same(t, req)
      } finally {
        await t.close()
      }
    })
  }

  it('answers a preflight natively with the headers of the stages before it', async () => {
    const { express, listen, request, sentHead } = await import('./helpers')
    const build = (framework: any, helmet: any, cors: any) => {
      const app = framework()
      app.disable('x-powered-by')
      app.use(helmet({ contentSecurityPolicy: false }))
      app.use(cors({ origin: /\.example$/, credentials: true, maxAge: 600 }))
      app.get('/x', (req: any, res: any) => res.send('x'))
      return app
    }
    const a = await listen(build(express, npm.helmet, npm.cors))
    const app = build(xypriss, xypriss.helmet, xypriss.cors)
    expect(app.nativePlan().stages.map((s: any) => s.kind)).toEqual(['helmet', 'cors'])
    const b = await listen(app)
    try {
      const before = xypriss.engineStats().requests
      const headers = { origin: 'https://app.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'x-a, x-b' }
      const ra = await request(a.port, 'OPTIONS', '/x', { headers })
      const rb = await request(b.port, 'OPTIONS', '/x', { headers })
      expect(rb.status).toBe(204)
      expect(sentHead(rb)).toEqual(sentHead(ra))
      // answered without waking JS
      expect(xypriss.engineStats().requests).toBe(before)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('runs cors itself for an Origin a JS layer rewrote into what no request can carry, as Express does', async () => {
    const { express, listen, request } = await import('./helpers')
    const build = (framework: any, cors: any) => {
      const app = framework()
      app.set('env', 'production')
      app.use((req: any, res: any, next: any) => {
        req.headers.origin = req.query.o
        next()
      })
      app.use(cors({ origin: true }))
      app.get('/', (req: any, res: any) => res.send(String(res.getHeader('Access-Control-Allow-Origin'))))
      return app
    }
    const a = await listen(build(express, npm.cors))
    const b = await listen(build(xypriss, xypriss.cors))
    try {
      for (const o of ['https://a.example', 'https://%E2%82%AC.example', 'a%0Ab']) {
        const ra = await request(a.port, 'GET', `/?o=${o}`)
        const rb = await request(b.port, 'GET', `/?o=${o}`)
        expect([rb.status, rb.body.toString()]).toEqual([ra.status, ra.body.toString()])
      }
    } finally {
      await a.close()
      await b.close()
    }
  })
})
