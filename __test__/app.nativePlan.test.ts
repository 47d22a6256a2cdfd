// app.nativePlan(): which leading middleware the engine runs natively before JS (the native
// prelude) and, for every other middleware, why it runs in JS; DEBUG=xypriss:native; the XyPriss
// API's options building the same stages; what keeps the plan right when the app changes.
import { spawnSync } from 'node:child_process'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { express, listen, request, sentHead, xypriss } from './helpers'
import { npm, startOfSecond, view } from './native-stages'

describe('app.nativePlan()', () => {
  it('lists the leading native middleware and why each other one runs in JS', () => {
    const app = xypriss()
    app.use(xypriss.helmet())
    app.use((err: any, req: any, res: any, next: any) => next(err)) // an error handler never runs for a clean request
    app.use('/api', xypriss.cors({ origin: ['https://a.example', /\.b\.example$/] }))
    app.use(['/x', '/y'], xypriss.rateLimit({ limit: 10 }))
    app.use(xypriss.json())
    app.use(xypriss.helmet())
    app.get('/', (req: any, res: any) => res.send('x'))
    expect(app.nativePlan()).toEqual({
      stages: [
        { index: 0, name: 'helmetMiddleware', kind: 'helmet', path: '/' },
        { index: 2, name: 'corsMiddleware', kind: 'cors', path: '/api' },
        { index: 3, name: 'rateLimitMiddleware', kind: 'rateLimit', path: ['/x', '/y'] },
        // a body parser's limit: the parser itself still runs in JS
        { index: 4, name: 'jsonParser', kind: 'bodyLimit', path: '/' },
      ],
      inJs: [{ index: 5, name: 'helmetMiddleware', reason: 'after jsonParser (index 4), which runs in JS before it' }],
    })
  })

  it('says why options, paths or settings keep a middleware in JS', () => {
    const cases: Array<[string, (app: any) => void, RegExp]> = [
      ['a CSP nonce computed per request', (app) => app.use(xypriss.helmet({ contentSecurityPolicy: { directives: { scriptSrc: [() => "'nonce-x'"] } } })), /computed per request/],
      ['an origin function', (app) => app.use(xypriss.cors({ origin: (o: any, cb: any) => cb(null, true) })), /origin.*function/],
      ['a JS keyGenerator', (app) => app.use(xypriss.rateLimit({ keyGenerator: () => 'k' })), /keyGenerator is a JS function \(counting stays native\)/],
      ['a limit per request', (app) => app.use(xypriss.rateLimit({ limit: () => 3 })), /limit/],
      ['a RegExp path', (app) => app.use(/^\/re/, xypriss.helmet()), /RegExp path/],
      [
        'trust proxy',
        (app) => {
          app.set('trust proxy', 1)
          app.use(xypriss.rateLimit())
        },
        /trust proxy/,
      ],
      [
        'an etag function',
        (app) => {
          app.set('etag', () => '"x"')
          app.use(xypriss.rateLimit())
        },
        /etag/,
      ],
      [
        'a JSON message with json spaces',
        (app) => {
          app.set('json spaces', 2)
          app.use(xypriss.rateLimit({ message: { error: 'slow' } }))
        },
        /json settings/,
      ],
      [
        'the same limiter twice',
        (app) => {
          const limiter = xypriss.rateLimit()
          app.use(limiter)
          app.use(limiter)
        },
        /already runs natively/,
      ],
    ]
    for (const [title, setup, reason] of cases) {
      const app = xypriss()
      setup(app)
      const plan = app.nativePlan()
      expect(plan.inJs.at(-1)?.reason, title).toMatch(reason)
    }
    // a route before them: they are after it
    const app = xypriss()
    app.get('/r', (req: any, res: any) => res.send('r'))
    app.use(xypriss.helmet())
    expect(app.nativePlan()).toEqual({ stages: [], inJs: [{ index: 1, name: 'helmetMiddleware', reason: 'after the route "/r" (index 0), which runs in JS before it' }] })
  })

  it('is printed at listen with DEBUG=xypriss:native', () => {
    const script = `
      const xypriss = require(${JSON.stringify(path.join(__dirname, '..'))})
      const app = xypriss()
      app.use(xypriss.helmet())
      app.use(xypriss.json())
      const server = app.listen(0, '127.0.0.1', () => server.close())
    `
    const run = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, DEBUG: 'xypriss:native' }, encoding: 'utf8', timeout: 30_000 })
    expect(run.status).toBe(0)
    expect(run.stderr).toContain('xypriss:native native prelude:')
    expect(run.stderr).toContain('[0] helmet at / (helmetMiddleware)')
    expect(run.stderr).toContain('[1] bodyLimit at / (jsonParser)')
    const quiet = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, DEBUG: '' }, encoding: 'utf8', timeout: 30_000 })
    expect(quiet.stderr).not.toContain('native prelude')
  })
})

describe('createServer({ security, cors, rateLimit })', () => {
  it('builds the same stages, natively, answering as helmet, cors and express-rate-limit on Express', async () => {
    const ours = xypriss.createServer({
      server: { host: '127.0.0.1' },
      security: { contentSecurityPolicy: false },
      cors: { origin: 'https://a.example' },
      rateLimit: { limit: 2, standardHeaders: 'draft-7' },
    })
    ours.post('/echo', (req: any, res: any) => res.json(req.body))
    expect(ours.nativePlan().stages.map((s: any) => s.kind)).toEqual(['helmet', 'cors', 'rateLimit', 'bodyLimit', 'bodyLimit'])
    const theirs = express()
    theirs.use(npm.helmet({ contentSecurityPolicy: false }))
    theirs.use(npm.cors({ origin: 'https://a.example' }))
    theirs.use(npm.rateLimit({ limit: 2, standardHeaders: 'draft-7' }))
    theirs.use(express.json())
    theirs.use(express.urlencoded({ extended: true }))
    theirs.post('/echo', (req: any, res: any) => res.json(req.body))
    await startOfSecond()
    const server = await new Promise<any>((resolve) => ours.start(resolve))
    const reference = await listen(theirs)
    try {
      for (let i = 0; i < 3; i++) {
        const options = { headers: { 'content-type': 'application/json', origin: 'https://a.example' }, body: '{"n":1}' }
        const a = await request(reference.port, 'POST', '/echo', options)
        const b = await request(ours.getPort()!, 'POST', '/echo', options)
        expect(view(b)).toEqual(view(a))
      }
    } finally {
      await reference.close()
      await new Promise((r) => server.close(r))
    }
  })
})

describe('the native prelude when the app changes', () => {
  it('follows trust proxy set after listen: the limiter keys req.ip from X-Forwarded-For in JS', async () => {
    const make = (framework: any, factory: any) => {
      const app = framework()
      app.use(factory({ limit: 1 }))
      app.get('/', (req: any, res: any) => res.send(req.ip))
      return app
    }
    const ours = make(xypriss, xypriss.rateLimit)
    const theirs = make(express, npm.rateLimit)
    await startOfSecond()
    const a = await listen(theirs)
    const b = await listen(ours)
    try {
      expect(ours.nativePlan().stages).toHaveLength(1)
      ours.set('trust proxy', 1)
      theirs.set('trust proxy', 1)
      expect(ours.nativePlan().stages).toHaveLength(0)
      for (const ip of ['10.0.0.1', '10.0.0.1', '10.0.0.2']) {
        const options = { headers: { 'x-forwarded-for': ip } }
        const ra = await request(a.port, 'GET', '/', options)
        const rb = await request(b.port, 'GET', '/', options)
        expect(view(rb), ip).toEqual(view(ra))
      }
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('compiles again when the stack was changed behind the router (its array edited)', async () => {
    const make = (framework: any, f: any) => {
      const app = framework()
      app.use(f.helmet({ contentSecurityPolicy: false }))
      app.get('/', (req: any, res: any) => res.send('ok'))
      return app
    }
    const inFront = (framework: any) => {
      const donor = framework()
      donor.use(function first(req: any, res: any, next: any) {
        res.setHeader('X-First', String(res.getHeader('X-Frame-Options') ?? 'none'))
        next()
      })
      return donor.router.stack[0]
    }
    const theirs = make(express, npm)
    const ours = make(xypriss, xypriss)
    const a = await listen(theirs)
    const b = await listen(ours)
    try {
      for (const app of [theirs, ours]) {
        app.router.stack.unshift(inFront(app === theirs ? express : xypriss))
        if (app === ours) app.router.version++
      }
      // the first request ran the old plan natively; it tells the app, which compiles again
      await request(b.port, 'GET', '/')
      expect(ours.nativePlan().stages).toEqual([])
      for (let i = 0; i < 2; i++) {
        const ra = await request(a.port, 'GET', '/')
        const rb = await request(b.port, 'GET', '/')
        expect(view(rb)).toEqual(view(ra))
      }
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('runs the compiled layers again in JS for a request dispatched again, as Express does', async () => {
    const make = (framework: any, f: any) => {
      const app = framework()
      app.use(f.helmet({ contentSecurityPolicy: false }))
      app.use(f.rateLimit({ limit: 10, validate: false }))
      app.use((req: any, res: any, next: any) => {
        if (req.url !== '/again') return next()
        req.url = '/done'
        app.handle(req, res)
      })
      app.get('/done', (req: any, res: any) => res.send(String(req.rateLimit.used)))
      return app
    }
    await startOfSecond()
    const a = await listen(make(express, npm))
    const b = await listen(make(xypriss, xypriss))
    try {
      for (let i = 0; i < 2; i++) {
        const ra = await request(a.port, 'GET', '/again')
        const rb = await request(b.port, 'GET', '/again')
        expect(view(rb)).toEqual(view(ra))
      }
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('runs the stages in JS for a client without an address (a Unix socket), as Express does', async () => {
    const make = (framework: any, f: any) => {
      const app = framework()
      app.use(f.helmet({ contentSecurityPolicy: false }))
      app.use(f.rateLimit({ limit: 1, validate: false }))
      app.get('/', (req: any, res: any) => res.json({ key: req.rateLimit.key ?? null }))
      return app
    }
    const viaSocket = (socketPath: string) =>
      new Promise<any>((resolve, reject) => {
        const req = http.request({ socketPath, path: '/', method: 'GET' }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }))
        })
        req.on('error', reject)
        req.end()
      })
    const dir = os.tmpdir()
    const paths = [path.join(dir, `xyp-prelude-e-${process.pid}.sock`), path.join(dir, `xyp-prelude-x-${process.pid}.sock`)]
    const servers = [make(express, npm).listen(paths[0]), make(xypriss, xypriss).listen(paths[1])]
    await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? r(null) : s.once('listening', r)))))
    try {
      for (let i = 0; i < 2; i++) {
        const ra = await viaSocket(paths[0])
        const rb = await viaSocket(paths[1])
        expect(sentHead(rb)).toEqual(sentHead(ra))
        expect([rb.status, rb.body.toString()]).toEqual([ra.status, ra.body.toString()])
      }
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
    }
  })

  it('keeps headers a JS layer reads, removes or adds to, as if the middleware had run in JS', async () => {
    const make = (framework: any, f: any) => {
      const app = framework()
      app.use(f.helmet())
      app.use(f.cors({ origin: true, credentials: true }))
      app.use((req: any, res: any, next: any) => {
        if (req.path !== '/') return next()
        res.removeHeader('X-Frame-Options')
        res.vary('Accept-Encoding')
        res.setHeader('X-Seen-CSP', String(res.getHeader('Content-Security-Policy')).slice(0, 20))
        next()
      })
      app.get('/', (req: any, res: any) => res.json(Object.keys(res.getHeaders())))
      app.get('/untouched', (req: any, res: any) => res.send('plain'))
      return app
    }
    const a = await listen(make(express, npm))
    const b = await listen(make(xypriss, xypriss))
    try {
      for (const p of ['/', '/untouched', '/nope']) {
        const options = { headers: { origin: 'https://c.example' } }
        const ra = await request(a.port, 'GET', p, options)
        const rb = await request(b.port, 'GET', p, options)
        expect(view(rb), p).toEqual(view(ra))
      }
    } finally {
      await a.close()
      await b.close()
    }
  })
})
