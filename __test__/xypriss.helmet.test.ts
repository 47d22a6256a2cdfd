// xypriss.helmet(options): helmet 8's options, errors, warnings and headers, byte for byte, in the
// native prelude (top of the app) and as JS middleware; every option set helmet was recorded with.
import { describe, expect, it } from 'vitest'
import { xypriss } from './helpers'
import { fixture, decode, npm, printed, same, thrown, trio, type Req } from './native-stages'

/** A CSP directive computed per request (the reason helmet itself runs). */
const nonce = (req: any, res: any) => `'nonce-${res.locals.nonce ?? 'n0'}'`

const requests: Req[] = [
  { method: 'GET', path: '/text' },
  { method: 'HEAD', path: '/text' },
  { method: 'GET', path: '/nope' },
  { method: 'HEAD', path: '/nope/deeper' },
  { method: 'OPTIONS', path: '/text' },
  { method: 'POST', path: '/text' },
  { method: 'GET', path: '/read' },
  { method: 'GET', path: '/change' },
  { method: 'GET', path: '/stream' },
  { method: 'POST', path: '/fail' },
]

describe('xypriss.helmet', () => {
  for (const c of fixture.helmet as any[]) {
    const options = () => decode(c.options, () => nonce)
    if (c.error) {
      it(`throws as helmet does: ${c.name}`, () => {
        const expected = thrown(() => npm.helmet(options()))
        expect(expected).toEqual({ type: c.error.type, message: c.error.message })
        expect(thrown(() => xypriss.helmet(options()))).toEqual(expected)
      })
      continue
    }
    // per-request values (a function, a value Node refuses per request) keep helmet itself
    const native = !JSON.stringify(c.options).includes('$function') && c.response?.failure === undefined
    it(`sets helmet's headers in both placements: ${c.name}`, async () => {
      const theirs = printed(() => npm.helmet(options()))
      const ours = printed(() => xypriss.helmet(options()))
      expect(ours.warn).toEqual(theirs.warn)
      const t = await trio('helmet', options, native)
      try {
        for (const req of requests) await same(t, req)
      } finally {
        await t.close()
      }
    })
  }

  it('runs helmet itself for a CSP nonce computed per request, identical to helmet', async () => {
    const options = () => ({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", nonce] } } })
    const { express, listen, request, sentHead } = await import('./helpers')
    const build = (framework: any, mw: any) => {
      const app = framework()
      app.use((req: any, res: any, next: any) => {
        res.locals.nonce = 'abc'
        next()
      })
      app.use(mw)
      app.get('/', (req: any, res: any) => res.send('x'))
      return app
    }
    const a = await listen(build(express, npm.helmet(options())))
    const b = await listen(build(xypriss, xypriss.helmet(options())))
    try {
      const ra = await request(a.port, 'GET', '/')
      const rb = await request(b.port, 'GET', '/')
      expect(sentHead(rb)).toEqual(sentHead(ra))
      expect(String(rb.headers['content-security-policy'])).toContain("script-src 'self' 'nonce-abc'")
    } finally {
      await a.close()
      await b.close()
    }
  })

  it("exports helmet's standalone middleware and constants", () => {
    expect(xypriss.helmet.contentSecurityPolicy).toBe(npm.helmet.contentSecurityPolicy)
    expect(xypriss.helmet.contentSecurityPolicy.dangerouslyDisableDefaultSrc).toBe(npm.helmet.contentSecurityPolicy.dangerouslyDisableDefaultSrc)
    expect(xypriss.helmet.hsts).toBe(npm.helmet.hsts)
  })
})
