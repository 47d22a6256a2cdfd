// The production stack of the bench (bench/servers/express-prod.js, xypriss-prod.js): helmet,
// cors, a rate limit and express.static in front of a JSON router. The npm middleware on
// express@5 and xypriss's own on xypriss, with the prelude native (the four at the top) and
// pushed into JS (a middleware in front), must send the same bytes for every request of a seeded
// sequence: files (GET, HEAD, ranges, conditionals), misses the router or Express's 404 answers,
// JSON routes, preflights, and 429s once the limit is reached.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, raw, request, xypriss, type Running } from './helpers'
import { npm } from './native-stages'

const require = createRequire(import.meta.url)
const etagOf = require('etag') as (stat: fs.Stats) => string

let root: string
const big = Buffer.alloc(200 * 1024)
for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-prod-stack-'))
  const files: Record<string, string | Buffer> = {
    'hello.txt': 'hello world\n',
    'index.html': '<h1>home</h1>',
    'about.html': '<h1>about</h1>',
    'sub/index.html': '<h1>sub</h1>',
    'caf\u00e9.txt': 'accent',
    '.env': 'DOTENV',
    'big.bin': big,
  }
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), content)
  }
})
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

interface StackSet {
  title: string
  helmet?: () => unknown
  cors?: () => unknown
  rateLimit: (limit: number) => unknown
  static?: () => Record<string, unknown>
  /** Where express.static is mounted (the root when unset). */
  mount?: string
}

const SETS: StackSet[] = [
  {
    // bench/servers/*-prod.js
    title: 'the bench app',
    rateLimit: (limit) => ({ windowMs: 60 * 60 * 1000, limit, standardHeaders: 'draft-8', legacyHeaders: false }),
  },
  {
    title: 'configured options, static mounted',
    helmet: () => ({ contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:'] } }, xFrameOptions: { action: 'deny' } }),
    cors: () => ({ origin: ['https://a.example', /\.b\.example$/], credentials: true, maxAge: 600, exposedHeaders: ['X-Total'] }),
    rateLimit: (limit) => ({ windowMs: 60 * 1000, limit, standardHeaders: 'draft-7', legacyHeaders: true, message: { error: 'slow down' } }),
    static: () => ({ maxAge: '1d', extensions: ['html'] }),
    mount: '/assets',
  },
]

type Framework = 'express' | 'xypriss native' | 'xypriss in JS'

/** The stack on `framework`, with a middleware in front of it for 'xypriss in JS'. */
function build(framework: Framework, set: StackSet, limit: number) {
  const f = framework === 'express' ? express : xypriss
  const m = framework === 'express' ? npm : xypriss
  const app = f()
  if (framework === 'xypriss in JS') {
    app.use(function inFront(_req: any, _res: any, next: any) {
      next()
    })
  }
  app.use(m.helmet(set.helmet?.()))
  app.use(m.cors(set.cors?.()))
  app.use(m.rateLimit(set.rateLimit(limit)))
  const files = f.static(root, set.static?.())
  if (set.mount) app.use(set.mount, files)
  else app.use(files)
  const api = f.Router()
  api.get('/json', (_req: any, res: any) => {
    res.json({ hello: 'world' })
  })
  app.use('/api', api)
  return app
}

/** A small seeded generator (mulberry32): a failing sequence replays from its seed. */
function generator(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]
}

interface Req {
  method: string
  target: string
  headers: Record<string, string>
}

/** `count` requests drawn from what a production app gets. */
function sequence(seed: number, count: number, mount: string): Req[] {
  const pick = generator(seed)
  const stat = fs.statSync(path.join(root, 'hello.txt'))
  const etag = etagOf(stat)
  const date = stat.mtime.toUTCString()
  // (no other spelling of a file's path: the engine's static path rule refuses those, see README)
  const files = ['/hello.txt', '/index.html', '/', '/sub', '/sub/', '/sub?x=1', '/big.bin', '/caf%C3%A9.txt', '/about', '/.env', '/nope.txt']
  const others = ['/api/json', '/api/json?q=1', '/api/nope', '/api', '/nope', '/API/JSON']
  const origins = [undefined, undefined, 'https://a.example', 'https://x.b.example', 'https://evil.example']
  const extras: Array<Record<string, string>> = [
    {},
    {},
    { range: 'bytes=0-4' },
    { range: 'bytes=-3' },
    { range: 'bytes=100000-100009' },
    { range: 'bytes=0-1,5-6' },
    { range: 'bytes=999999-' },
    { range: 'bytes=x' },
    { 'if-none-match': etag },
    { 'if-none-match': '"stale"' },
    { 'if-modified-since': date },
    { 'if-modified-since': '2999-01-01' }, // only V8's Date.parse reads it: the JS middleware answers
    { range: 'bytes=0-4', 'if-range': etag },
  ]
  const list: Req[] = []
  for (let i = 0; i < count; i++) {
    const headers: Record<string, string> = { ...pick(extras) }
    const origin = pick(origins)
    if (origin) headers.origin = origin
    const kind = pick(['file', 'file', 'file', 'file', 'other', 'other', 'preflight', 'odd target'] as const)
    if (kind === 'preflight') {
      const preflight: Record<string, string> = { 'access-control-request-method': pick(['GET', 'PUT', 'DELETE']) }
      if (origin) preflight.origin = origin
      if (pick([true, false])) preflight['access-control-request-headers'] = 'x-a, content-type'
      list.push({ method: 'OPTIONS', target: mount + pick(files), headers: preflight })
    } else if (kind === 'odd target') {
      // targets whose static layer JS runs, after the stages before it ran natively
      list.push({ method: 'GET', target: pick([`http://x${mount}/hello.txt`, `http://x${mount}/nope.txt`, `${mount}/sub#top`]), headers })
    } else {
      const target = kind === 'file' ? mount + pick(files) : pick(others)
      list.push({ method: pick(['GET', 'GET', 'GET', 'HEAD', 'POST']), target, headers })
    }
  }
  return list
}

/** The request's bytes on a connection of its own. */
function wire(req: Req): string {
  const lines = [`${req.method} ${req.target} HTTP/1.1`, 'Host: prod.test', 'Connection: close']
  for (const [name, value] of Object.entries(req.headers)) lines.push(`${name}: ${value}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}

/** The answer as sent, but the clock's Date. */
async function exchange(port: number, req: Req): Promise<string> {
  return (await raw(port, wire(req))).replace(/\r\nDate: [^\r]*\r\n/, '\r\nDate: <date>\r\n')
}

/**
 * The seconds a limiter prints (`t=`, `reset=`, `Retry-After`) count down from each app's first
 * hit: the apps are asked one right after the other, and never across a second's edge of any of
 * their windows, so that they print the same numbers.
 */
async function clearOfSecondEdges(firstHits: number[]): Promise<void> {
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    const now = Date.now()
    if (firstHits.every((first) => (now - first) % 1000 > 80 && (now - first) % 1000 < 650)) return
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('the production stack answers as express@5 with the npm middleware', () => {
  for (const set of SETS) {
    it(`${set.title}: every request of a seeded sequence, native and in JS`, async () => {
      const seed = 0x5eed + set.title.length
      const limit = 110
      const requests = sequence(seed, 190, set.mount ?? '')
      const frameworks: Framework[] = ['express', 'xypriss native', 'xypriss in JS']
      const apps = frameworks.map((f) => build(f, set, limit))
      // the placements are what they claim to be
      expect(apps[1].nativePlan().stages.map((s: any) => s.kind)).toEqual(['helmet', 'cors', 'rateLimit', 'static'])
      expect(apps[2].nativePlan().stages).toEqual([])
      const servers: Running[] = []
      try {
        for (const app of apps) servers.push(await listen(app))
        // each app's window starts with its first hit, asked in turn
        const firstHits: number[] = []
        for (const server of servers) {
          const sent = Date.now()
          await exchange(server.port, { method: 'GET', target: '/api/json', headers: {} })
          firstHits.push((sent + Date.now()) / 2)
        }
        const statuses = new Set<number>()
        for (const [i, req] of requests.entries()) {
          await clearOfSecondEdges(firstHits)
          const [theirs, native, inJs] = [
            await exchange(servers[0].port, req),
            await exchange(servers[1].port, req),
            await exchange(servers[2].port, req),
          ]
          const label = `seed ${seed}, request ${i}: ${req.method} ${req.target} ${JSON.stringify(req.headers)}`
          expect(native, `native, ${label}`).toBe(theirs)
          expect(inJs, `in JS, ${label}`).toBe(theirs)
          statuses.add(Number(theirs.slice(9, 12)))
        }
        // the sequence reached every kind of answer
        for (const status of [200, 204, 206, 301, 304, 404, 416, 429]) expect([...statuses]).toContain(status)
        // the native stack answered most of them without JS; in JS every one woke it
        expect(servers[1].server.requests).toBeLessThan(servers[2].server.requests / 2)
      } finally {
        for (const server of servers) await server.close()
      }
    })
  }
})

describe('the native stack', () => {
  it('lists every stage native in app.nativePlan(), and why the router runs in JS', () => {
    expect(build('xypriss native', SETS[0], 10).nativePlan()).toEqual({
      stages: [
        { index: 0, name: 'helmetMiddleware', kind: 'helmet', path: '/' },
        { index: 1, name: 'corsMiddleware', kind: 'cors', path: '/' },
        { index: 2, name: 'rateLimitMiddleware', kind: 'rateLimit', path: '/' },
        { index: 3, name: 'serveStatic', kind: 'static', path: '/' },
      ],
      inJs: [{ index: 4, name: 'router', reason: 'not a native middleware' }],
    })
    expect(build('xypriss native', SETS[1], 10).nativePlan().stages[3]).toEqual({ index: 3, name: 'serveStatic', kind: 'static', path: '/assets' })
    expect(build('xypriss in JS', SETS[0], 10).nativePlan()).toEqual({
      stages: [],
      inJs: [
        { index: 0, name: 'inFront', reason: 'not a native middleware' },
        { index: 1, name: 'helmetMiddleware', reason: 'after inFront (index 0), which runs in JS before it' },
        { index: 2, name: 'corsMiddleware', reason: 'after inFront (index 0), which runs in JS before it' },
        { index: 3, name: 'rateLimitMiddleware', reason: 'after inFront (index 0), which runs in JS before it' },
        { index: 4, name: 'serveStatic', reason: 'after inFront (index 0), which runs in JS before it' },
        { index: 5, name: 'router', reason: 'not a native middleware' },
      ],
    })
  })

  it('says why an express.static it cannot serve runs in JS, and ends the prelude there', () => {
    const app = xypriss()
    app.use(xypriss.helmet())
    app.use(xypriss.static(root, { setHeaders: () => {} }))
    app.use(xypriss.cors())
    expect(app.nativePlan()).toEqual({
      stages: [{ index: 0, name: 'helmetMiddleware', kind: 'helmet', path: '/' }],
      inJs: [
        { index: 1, name: 'serveStatic', reason: 'setHeaders is a JS function' },
        { index: 2, name: 'corsMiddleware', reason: 'after serveStatic (index 1), which runs in JS before it' },
      ],
    })
  })

  it('serves a file behind helmet, cors and the limiter without waking JS or running send', async () => {
    const server = await listen(build('xypriss native', SETS[0], 1000))
    const original = fs.stat
    let jsStats = 0
    ;(fs as any).stat = function stat(this: unknown, ...args: any[]) {
      if (typeof args[0] === 'string' && args[0].startsWith(root)) jsStats++
      return (original as any).apply(this, args)
    }
    try {
      const first = await request(server.port, 'GET', '/hello.txt', { headers: { origin: 'https://a.example' } })
      const before = server.server.requests
      const replies = [
        first,
        await request(server.port, 'GET', '/hello.txt'),
        await request(server.port, 'HEAD', '/big.bin'),
        await request(server.port, 'GET', '/big.bin'),
        await request(server.port, 'GET', '/hello.txt', { headers: { 'if-none-match': first.headers.etag as string } }),
        await request(server.port, 'GET', '/hello.txt', { headers: { range: 'bytes=0-4' } }),
        await request(server.port, 'GET', '/sub'),
        await request(server.port, 'OPTIONS', '/hello.txt', { headers: { origin: 'https://a.example', 'access-control-request-method': 'PUT' } }),
      ]
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 304, 206, 301, 204])
      expect(replies[3].body.equals(big)).toBe(true)
      for (const r of replies.slice(0, 7)) {
        // what helmet, cors and the limiter set, on the engine's answer
        expect(r.headers['x-frame-options']).toBe('SAMEORIGIN')
        expect(r.headers['access-control-allow-origin']).toBe('*')
        expect(r.headers.ratelimit).toMatch(/^"1000-in-1hr"; r=\d+; t=\d+$/)
        expect(r.headers['x-powered-by']).toBeUndefined()
      }
      expect(server.server.requests).toBe(before)
      expect(jsStats).toBe(0)
      // a miss goes on to JS once: the router's 404 (JS), and Express's 404 (native)
      expect((await request(server.port, 'GET', '/api/nope')).status).toBe(404)
      expect(server.server.requests).toBe(before + 1)
      expect((await request(server.port, 'GET', '/nope')).status).toBe(404)
      expect(server.server.requests).toBe(before + 1)
      expect(jsStats).toBe(0)
    } finally {
      ;(fs as any).stat = original
      await server.close()
    }
  })
})
