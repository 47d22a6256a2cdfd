// xypriss.rateLimit(options): express-rate-limit 8's counting, headers of every draft, answers
// past the limit and skip options, byte for byte, in the native prelude (top of the app) and as
// JS middleware; a JS keyGenerator and skip counting through the native counters; its logs.
import { describe, expect, it } from 'vitest'
import http from 'node:http'
import { express, listen, request, sentHead, xypriss } from './helpers'
import { build, decode, fixture, npm, same, startOfSecond, trio, view, type Req } from './native-stages'

/** What a `$function` in a recorded option set stands for. */
function functions(at: string): unknown {
  if (at === 'keyGenerator') return (req: any) => `user:${req.headers['x-user'] ?? 'anon'}`
  if (at === 'skip') return (req: any) => req.path === '/text'
  return () => undefined
}

// Cases that need a client address other than 127.0.0.1 or a clock; the Rust fixture test covers them.
const ELSEWHERE = ['draft-8 with an IPv6 network key', 'IPv6 grouped by /56', 'IPv6 subnet 64', 'IPv6 subnet false keys by the text', 'mapped IPv4 shares the IPv4 key', 'skip after the window ended keeps the count']
// Options only JS can honour (express-rate-limit itself runs, counting natively when it can).
const IN_JS = ['keyGenerator in JS', 'skip in JS', 'windowMs zero']

/** A sequence that goes past any limit the cases set, and through the skip options. */
function sequence(limit: number): Req[] {
  const out: Req[] = []
  for (let i = 0; i < Math.min(limit, 6) + 2; i++) out.push({ method: 'GET', path: '/info', headers: { 'x-user': 'u1' } })
  out.push(
    { method: 'POST', path: '/fail' },
    { method: 'GET', path: '/text' },
    { method: 'HEAD', path: '/text' },
    { method: 'GET', path: '/nope' },
    { method: 'OPTIONS', path: '/only-put' },
    { method: 'GET', path: '/read' },
    { method: 'GET', path: '/info', headers: { 'x-user': 'u2' } },
  )
  return out
}

/** Runs `fn` up to 3 times: replies that print seconds differ when a run straddles a second. */
async function withinOneSecond(fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await startOfSecond()
    const started = Date.now()
    try {
      await fn()
      return
    } catch (error) {
      const straddled = Math.floor(Date.now() / 1000) !== Math.floor(started / 1000)
      if (!straddled || attempt === 3) throw error
    }
  }
}

describe('xypriss.rateLimit', () => {
  for (const c of fixture.rate_limit as any[]) {
    if (ELSEWHERE.includes(c.name)) continue
    const options = () => decode(c.options, functions) as any
    it(`counts and answers as express-rate-limit in both placements: ${c.name}`, async () => {
      await withinOneSecond(async () => {
        const t = await trio('rateLimit', options, !IN_JS.includes(c.name))
        try {
          const limit = options()?.limit ?? options()?.max ?? 5
          for (const req of sequence(limit)) await same(t, req)
        } finally {
          await t.close()
        }
      })
    })
  }

  it('logs what express-rate-limit logs, at setup and on the first request', async () => {
    for (const c of fixture.rate_limit as any[]) {
      if (ELSEWHERE.includes(c.name) || IN_JS.includes(c.name)) continue
      const logs = async (framework: any, make: any) => {
        const lines: string[] = []
        const original = { warn: console.warn, error: console.error }
        const keep = (level: string) => (e: any) => lines.push(`${level} ${e?.name}: ${e?.message} [${e?.code}]`)
        console.warn = keep('warn')
        console.error = keep('error')
        try {
          const app = build(framework, make(decode(c.options, functions)), 'native')
          const r = await listen(app)
          await request(r.port, 'GET', '/text', { headers: { 'x-forwarded-for': '10.0.0.1', forwarded: 'for=10.0.0.1' } })
          await request(r.port, 'GET', '/text')
          await r.close()
        } finally {
          console.warn = original.warn
          console.error = original.error
        }
        return lines
      }
      // the same lines (a few come at setup here where express-rate-limit logs them on the first request)
      const theirs = (await logs(express, npm.rateLimit)).sort()
      expect((await logs(xypriss, xypriss.rateLimit)).sort(), c.name).toEqual(theirs)
    }
  })

  it('answers past the limit without waking JS', async () => {
    const app = xypriss()
    app.use(xypriss.rateLimit({ limit: 1, standardHeaders: 'draft-7' }))
    app.get('/', (req: any, res: any) => res.send('ok'))
    const r = await listen(app)
    try {
      expect((await request(r.port, 'GET', '/')).status).toBe(200)
      const before = xypriss.engineStats().requests
      for (let i = 0; i < 5; i++) expect((await request(r.port, 'GET', '/')).status).toBe(429)
      expect(xypriss.engineStats().requests).toBe(before)
    } finally {
      await r.close()
    }
  })

  it('appends the draft-8 headers of two limiters, as express-rate-limit does', async () => {
    const limiters = (make: any) => [
      make({ limit: 3, windowMs: 60_000, standardHeaders: 'draft-8', legacyHeaders: false, identifier: 'burst' }),
      make({ limit: 10, windowMs: 3_600_000, standardHeaders: 'draft-8', legacyHeaders: false }),
    ]
    const make = (framework: any, factory: any) => {
      const app = framework()
      for (const l of limiters(factory)) app.use(l)
      app.get('/', (req: any, res: any) => res.send('ok'))
      return app
    }
    await withinOneSecond(async () => {
      const a = await listen(make(express, npm.rateLimit))
      const nativeApp = make(xypriss, xypriss.rateLimit)
      expect(nativeApp.nativePlan().stages).toHaveLength(2)
      const b = await listen(nativeApp)
      try {
        for (let i = 0; i < 5; i++) {
          const ra = await request(a.port, 'GET', '/')
          const rb = await request(b.port, 'GET', '/')
          expect(view(rb)).toEqual(view(ra))
        }
      } finally {
        await a.close()
        await b.close()
      }
    })
  })

  it('takes back hits per skipFailedRequests when the client leaves before the answer', async () => {
    /** Polls the limiter until the client's count is `expected`. */
    const counted = async (limiter: any, expected: number) => {
      const deadline = Date.now() + 10_000
      for (;;) {
        const hits = (await limiter.getKey('127.0.0.1'))?.totalHits ?? 0
        if (hits === expected) return
        if (Date.now() > deadline) throw new Error(`count ${hits}, expected ${expected}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    }
    for (const [framework, factory] of [
      [express, npm.rateLimit],
      [xypriss, xypriss.rateLimit],
    ]) {
      const limiter = factory({ limit: 1, skipFailedRequests: true })
      const app = framework()
      app.use(limiter)
      app.get('/hang', () => {})
      app.get('/', (req: any, res: any) => res.send('ok'))
      const r = await listen(app)
      try {
        const req = http.get({ host: '127.0.0.1', port: r.port, path: '/hang', agent: false })
        req.on('error', () => {})
        await counted(limiter, 1)
        req.destroy()
        // the abandoned request is taken back: the limit of 1 is free again
        await counted(limiter, 0)
        expect((await request(r.port, 'GET', '/')).status).toBe(200)
        expect((await request(r.port, 'GET', '/')).status).toBe(429)
      } finally {
        await r.close()
      }
    }
  })

  it('resets a key and reads it through the middleware, with native counting', async () => {
    const limiter = xypriss.rateLimit({ limit: 1 })
    const app = xypriss()
    app.use(limiter)
    app.get('/', (req: any, res: any) => res.send('ok'))
    const r = await listen(app)
    try {
      expect((await request(r.port, 'GET', '/')).status).toBe(200)
      expect((await request(r.port, 'GET', '/')).status).toBe(429)
      expect(await limiter.getKey('127.0.0.1')).toMatchObject({ totalHits: 2 })
      await limiter.resetKey('127.0.0.1')
      expect(await limiter.getKey('127.0.0.1')).toBeUndefined()
      expect((await request(r.port, 'GET', '/')).status).toBe(200)
    } finally {
      await r.close()
    }
  })

  it('counts a JS keyGenerator through the native counters, shared by every placement of one limiter', async () => {
    const limiter = xypriss.rateLimit({ limit: 2, keyGenerator: (req: any) => String(req.headers['x-user']) })
    const app = xypriss()
    app.use('/a', limiter)
    app.use('/b', (req: any, res: any, next: any) => next(), limiter)
    app.get('/a', (req: any, res: any) => res.send('a'))
    app.get('/b', (req: any, res: any) => res.send('b'))
    const r = await listen(app)
    try {
      const u = { headers: { 'x-user': 'lin' } }
      expect((await request(r.port, 'GET', '/a', u)).status).toBe(200)
      expect((await request(r.port, 'GET', '/b', u)).status).toBe(200)
      expect((await request(r.port, 'GET', '/a', u)).status).toBe(429)
      expect((await request(r.port, 'GET', '/a', { headers: { 'x-user': 'other' } })).status).toBe(200)
      expect(await limiter.getKey('lin')).toMatchObject({ totalHits: 3 })
    } finally {
      await r.close()
    }
  })

  it('throws the setup errors express-rate-limit throws', () => {
    const bad = [{ logger: {} }, { store: { increment: 1 } }]
    for (const options of bad) {
      let theirs: any
      try {
        npm.rateLimit(options)
      } catch (e) {
        theirs = e
      }
      expect(theirs).toBeInstanceOf(TypeError)
      expect(() => xypriss.rateLimit(options as any)).toThrow(theirs.message)
    }
  })

  it('gives req.rateLimit (and a custom requestPropertyName) from the native stage', async () => {
    const app = xypriss()
    app.use(xypriss.rateLimit({ limit: 5, requestPropertyName: 'quota' }))
    app.get('/', (req: any, res: any) => res.json({ quota: req.quota, current: req.quota.current, own: Object.keys(req).includes('quota') }))
    const r = await listen(app)
    try {
      const body = JSON.parse((await request(r.port, 'GET', '/')).body.toString())
      expect(body).toMatchObject({ quota: { limit: 5, used: 1, remaining: 4, key: '127.0.0.1' }, current: 1, own: true })
      expect(new Date(body.quota.resetTime).getTime()).toBeGreaterThan(Date.now())
    } finally {
      await r.close()
    }
  })

  it('sends the same head as Express for a limiter after helmet and cors', async () => {
    const make = (framework: any, f: any) => {
      const app = framework()
      app.use(f.helmet())
      app.use(f.cors({ origin: 'https://a.example' }))
      app.use(f.rateLimit({ limit: 1, standardHeaders: 'draft-6' }))
      app.get('/', (req: any, res: any) => res.send('ok'))
      return app
    }
    await withinOneSecond(async () => {
      const a = await listen(make(express, npm))
      const b = await listen(make(xypriss, xypriss))
      try {
        for (const method of ['GET', 'GET', 'HEAD', 'OPTIONS']) {
          const ra = await request(a.port, method, '/', { headers: { origin: 'https://a.example' } })
          const rb = await request(b.port, method, '/', { headers: { origin: 'https://a.example' } })
          expect(sentHead(rb)).toEqual(sentHead(ra))
          expect(rb.body.toString()).toBe(ra.body.toString())
        }
      } finally {
        await a.close()
        await b.close()
      }
    })
  })
})
