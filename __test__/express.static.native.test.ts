// express.static at the top of an app is answered by the engine (crates/xsys-static); anywhere
// else it runs in JS. Both placements must answer every request as express.static on express@5
// does, byte for byte (status, every header but Date, body), and the native one must not wake
// JS for what it answers, nor let the JS middleware run a second time for what it passes on.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { express, listen, request, sentHead, xypriss, type Reply, type Running } from './helpers'

const require = createRequire(import.meta.url)
const etagOf = require('etag') as (stat: fs.Stats) => string

let base: string
let root: string
const big = Buffer.alloc(300 * 1024)
for (let i = 0; i < big.length; i++) big[i] = i % 251

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-native-static-'))
  root = path.join(base, 'root')
  // Beside the root: what no request may ever get.
  fs.writeFileSync(path.join(base, 'secret.txt'), 'TOP SECRET')
  const files: Record<string, string | Buffer> = {
    'hello.txt': 'hello world\n',
    'index.html': '<h1>home</h1>',
    'about.html': '<h1>about</h1>',
    'sub/index.html': '<h1>sub</h1>',
    'sub/index.htm': '<h1>sub htm</h1>',
    'empty.txt': '',
    '.env': 'DOTENV',
    '.well-known/x.txt': 'well known',
    'caf\u00e9.txt': 'accent',
    'a b.txt': 'space',
    '100%.txt': 'percent',
    'UPPER.HTML': '<p>upper</p>',
    README: 'readme',
    'dir.html/inside.txt': 'inside',
    'big.bin': big,
  }
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), content)
  }
  fs.mkdirSync(path.join(root, 'empty'))
  // stat fails with ELOOP: send's 500, which serve-static always forwards.
  fs.symlinkSync('loop', path.join(root, 'loop'))
})
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

interface Setup {
  title: string
  options?: Record<string, unknown>
  mount?: string
  /** Express's final handler (production) instead of an error handler of the app's. */
  finalHandler?: boolean
}

const SETUPS: Setup[] = [
  { title: 'defaults' },
  { title: 'fallthrough: false', options: { fallthrough: false } },
  { title: 'fallthrough: false, final handler', options: { fallthrough: false }, finalHandler: true },
  {
    title: 'maxAge, immutable, extensions, index list',
    options: { maxAge: '1d', immutable: true, extensions: ['html'], index: ['index.htm', 'index.html'] },
  },
  { title: 'dotfiles allow, no validators', options: { dotfiles: 'allow', etag: false, lastModified: false } },
  {
    title: 'dotfiles deny, no ranges, no cache-control, no fallthrough',
    options: { dotfiles: 'deny', acceptRanges: false, cacheControl: false, fallthrough: false },
    finalHandler: true,
  },
  { title: 'no redirect, no index', options: { redirect: false, index: false } },
  { title: 'mounted, numeric maxAge', options: { maxAge: 5000.7 }, mount: '/static' },
]

/** The app: the static layer (first, or after a pass-through layer), a route, then the tail. */
function build(framework: any, setup: Setup, placement: 'top' | 'after a layer') {
  const app = framework()
  app.set('env', 'production')
  if (placement === 'after a layer') app.use((_req: any, _res: any, next: any) => next())
  const files = framework.static(root, setup.options)
  if (setup.mount) app.use(setup.mount, files)
  else app.use(files)
  app.get('/route', (_req: any, res: any) => res.send('route'))
  app.use((_req: any, res: any) => res.status(418).set('X-Fell', 'through').send('fell through'))
  if (!setup.finalHandler) {
    app.use((err: any, _req: any, res: any, _next: any) => {
      const seen = [err.status, err.expose, err.code ?? '-', err.syscall ?? '-', err.name, JSON.stringify(err.headers ?? {})]
      res.status(err.status ?? 500).set('X-Error', seen.join(' ')).send(`error ${err.status}`)
    })
  }
  return app
}

const TARGETS = [
  '/hello.txt', '/index.html', '/', '/sub', '/sub/', '/sub?x=1&y=<z>', '/empty', '/empty/', '/nope.txt', '/nope',
  '/about', '/hello.txt/', '/hello.txt/x', '/.env', '/.well-known/x.txt', '/big.bin', '/empty.txt', '/caf%C3%A9.txt',
  '/a%20b.txt', '/100%25.txt', '/UPPER.HTML', '/README', '/dir.html', '/dir', '/loop', '/route', '/%', '/%c0%ae',
  `/${'n'.repeat(300)}`,
]

function cases(setup: Setup, hello: { etag: string; date: string }) {
  const prefix = setup.mount ?? ''
  const list: Array<{ method: string; target: string; headers?: Record<string, string> }> = []
  for (const target of TARGETS) {
    for (const method of ['GET', 'HEAD']) list.push({ method, target: prefix + target })
  }
  if (setup.mount) {
    for (const target of ['/static', '/static?q=1', '/STATIC/hello.txt', '/static/sub']) list.push({ method: 'GET', target })
  }
  list.push({ method: 'POST', target: `${prefix}/hello.txt` }, { method: 'OPTIONS', target: `${prefix}/hello.txt` })
  const conditionals: Array<Record<string, string>> = [
    { 'if-none-match': hello.etag },
    { 'if-none-match': hello.etag.slice(2) },
    { 'if-none-match': '*' },
    { 'if-none-match': '"nope"' },
    { 'if-modified-since': hello.date },
    { 'if-modified-since': 'Tue, 31 Dec 2019 23:59:59 GMT' },
    { 'if-modified-since': 'Tue, 01 Jan 2999 00:00:00 GMT' },
    { 'if-modified-since': '2999-01-01' },
    { 'if-none-match': hello.etag, 'cache-control': 'no-cache' },
    { 'if-match': '"nope"' },
    { 'if-match': hello.etag },
    { 'if-unmodified-since': 'Tue, 31 Dec 2019 23:59:59 GMT' },
    { range: 'bytes=0-4' },
    { range: 'bytes=-6' },
    { range: 'bytes=0-1,4-5' },
    { range: 'bytes=0-2,1-4' },
    { range: 'bytes=12-' },
    { range: 'bytes=x' },
    { range: 'bytes=0-4', 'if-range': hello.etag },
    { range: 'bytes=0-4', 'if-range': '"stale"' },
    { range: 'bytes=0-4', 'if-range': hello.date },
  ]
  for (const headers of conditionals) list.push({ method: 'GET', target: `${prefix}/hello.txt`, headers })
  for (const range of ['bytes=100000-100009', 'bytes=-1', 'bytes=0-']) {
    list.push({ method: 'GET', target: `${prefix}/big.bin`, headers: { range } })
  }
  list.push({ method: 'GET', target: `${prefix}/empty.txt`, headers: { range: 'bytes=0-' } })
  return list
}

function shown(r: Reply): string {
  return JSON.stringify([r.status, sentHead(r), r.body.toString('latin1')])
}

/** Counts send's fs.stat calls: the JS middleware's work, which the native stage never does. */
function countJsStats() {
  const original = fs.stat
  let count = 0
  ;(fs as any).stat = function stat(this: unknown, ...args: any[]) {
    if (typeof args[0] === 'string' && args[0].startsWith(root)) count++
    return (original as any).apply(this, args)
  }
  return {
    get count() {
      return count
    },
    restore: () => {
      ;(fs as any).stat = original
    },
  }
}

describe('express.static, native at the top and in JS elsewhere, answers as express@5', () => {
  // Express's final handler logs each error it answers in production; the replies are compared.
  beforeAll(() => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
  })
  afterAll(() => {
    vi.restoreAllMocks()
  })
  for (const setup of SETUPS) {
    it(setup.title, async () => {
      const stat = fs.statSync(path.join(root, 'hello.txt'))
      const hello = { etag: etagOf(stat), date: stat.mtime.toUTCString() }
      const servers: Running[] = []
      try {
        for (const [framework, placement] of [
          [express, 'top'],
          [xypriss, 'top'],
          [xypriss, 'after a layer'],
        ] as const) {
          servers.push(await listen(build(framework, setup, placement)))
        }
        const [theirs, native, js] = servers
        let compared = 0
        for (const { method, target, headers } of cases(setup, hello)) {
          const a = await request(theirs.port, method, target, { headers })
          const b = await request(native.port, method, target, { headers })
          const c = await request(js.port, method, target, { headers })
          const what = [method, target, headers ?? {}]
          expect([...what, 'native', shown(b)]).toEqual([...what, 'native', shown(a)])
          expect([...what, 'in JS', shown(c)]).toEqual([...what, 'in JS', shown(a)])
          compared++
        }
        expect(compared).toBeGreaterThan(80)
        // The native placement answered most of them without JS; the other placement never could.
        expect(native.server.requests).toBeLessThan(js.server.requests)
      } finally {
        for (const server of servers) await server.close()
      }
    })
  }
})

describe('traversal, in every spelling', () => {
  const SPELLINGS = [
    '/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2Fsecret.txt', '/.%2e/secret.txt',
    '/sub/../../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt', '/..\\secret.txt', '/..%5csecret.txt', '/..%5Csecret.txt',
    '//../secret.txt', '/%c0%ae%c0%ae/secret.txt', '/%252e%252e/secret.txt', '/sub%2f..%2f..%2fsecret.txt',
    '/./../secret.txt', '/%2e%2e%2f%2e%2e%2fsecret.txt', '/sub/..%00/secret.txt',
  ]
  for (const fallthrough of [true, false]) {
    it(`is refused alike at the top and in JS (fallthrough: ${fallthrough}), and never reaches outside the root`, async () => {
      const setup: Setup = { title: 'traversal', options: { fallthrough } }
      const native = await listen(build(xypriss, setup, 'top'))
      const js = await listen(build(xypriss, setup, 'after a layer'))
      const { RawClient } = await import('./raw-client')
      try {
        for (const target of SPELLINGS) {
          const [a, b] = [new RawClient(native.port), new RawClient(js.port)]
          const [ours, theirs] = [await a.get(target), await b.get(target)]
          a.close()
          b.close()
          expect([target, ours.status, ours.body.toString()]).toEqual([target, theirs.status, theirs.body.toString()])
          expect([target, ours.body.toString().includes('TOP SECRET')]).toEqual([target, false])
          expect([target, ours.status]).not.toEqual([target, 200])
        }
      } finally {
        await native.close()
        await js.close()
      }
    })
  }
})

describe('the native stage', () => {
  it('answers files, 304s, ranges and redirects without waking JS or running send', async () => {
    const server = await listen(build(xypriss, { title: 'defaults' }, 'top'))
    const stats = countJsStats()
    try {
      const etag = (await request(server.port, 'GET', '/hello.txt')).headers.etag as string
      const before = server.server.requests
      const replies = [
        await request(server.port, 'GET', '/hello.txt'),
        await request(server.port, 'HEAD', '/big.bin'),
        await request(server.port, 'GET', '/big.bin'),
        await request(server.port, 'GET', '/hello.txt', { headers: { 'if-none-match': etag } }),
        await request(server.port, 'GET', '/hello.txt', { headers: { range: 'bytes=0-4' } }),
        await request(server.port, 'GET', '/sub'),
        await request(server.port, 'GET', '/sub/'),
      ]
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 304, 206, 301, 200])
      expect(replies[2].body.equals(big)).toBe(true)
      expect(server.server.requests).toBe(before)
      expect(stats.count).toBe(0)
    } finally {
      stats.restore()
      await server.close()
    }
  })

  it('passes a miss on to the next layer once, without running the JS middleware again', async () => {
    const server = await listen(build(xypriss, { title: 'defaults' }, 'top'))
    const stats = countJsStats()
    try {
      const before = server.server.requests
      const miss = await request(server.port, 'GET', '/nope.txt')
      expect([miss.status, miss.body.toString()]).toEqual([418, 'fell through'])
      const route = await request(server.port, 'GET', '/route')
      expect(route.body.toString()).toBe('route')
      // Another spelling of a file's path is a miss too (the engine's static path rule).
      const spelled = await request(server.port, 'GET', '/./hello.txt')
      expect(spelled.status).toBe(418)
      expect(server.server.requests).toBe(before + 3)
      expect(stats.count).toBe(0)
    } finally {
      stats.restore()
      await server.close()
    }
  })

  it("leaves what serve-static forwards as an error to the JS middleware, which answers it", async () => {
    const server = await listen(build(xypriss, { title: 'strict', options: { fallthrough: false } }, 'top'))
    const stats = countJsStats()
    try {
      const missing = await request(server.port, 'GET', '/nope.txt')
      expect(missing.status).toBe(404)
      expect(missing.headers['x-error']).toBe('404 false ENOENT stat Error {}')
      expect(stats.count).toBeGreaterThan(0)
    } finally {
      stats.restore()
      await server.close()
    }
  })

  it("answers Express's 404 itself when only static layers matched and all passed", async () => {
    const only = (framework: any) => {
      const app = framework()
      app.use(framework.static(root))
      app.use('/assets', framework.static(path.join(root, 'sub')))
      return app
    }
    const theirs = await listen(only(express))
    const ours = await listen(only(xypriss))
    try {
      const before = ours.server.requests
      for (const target of ['/nope', '/assets/nope', '/assets/index.html', '/assets']) {
        const [a, b] = [await request(theirs.port, 'GET', target), await request(ours.port, 'GET', target)]
        expect([target, shown(b)]).toEqual([target, shown(a)])
      }
      expect(ours.server.requests).toBe(before)
    } finally {
      await theirs.close()
      await ours.close()
    }
  })

  it("follows the app's x-powered-by setting, also when it changes while listening", async () => {
    const app = xypriss()
    app.disable('x-powered-by')
    app.use(xypriss.static(root))
    const server = await listen(app)
    try {
      const before = server.server.requests
      const off = await request(server.port, 'GET', '/hello.txt')
      expect(sentHead(off)[0]).toBe('Accept-Ranges: bytes')
      app.enable('x-powered-by')
      const on = await request(server.port, 'GET', '/hello.txt')
      expect(sentHead(on).slice(0, 2)).toEqual(['X-Powered-By: Express', 'Accept-Ranges: bytes'])
      expect(server.server.requests).toBe(before)
    } finally {
      await server.close()
    }
  })

  it('is not used for a static layer with setHeaders, which JS runs', async () => {
    const app = xypriss()
    app.use(xypriss.static(root, { setHeaders: (res: any) => res.setHeader('X-Set', 'yes') }))
    const server = await listen(app)
    try {
      const before = server.server.requests
      const r = await request(server.port, 'GET', '/hello.txt')
      expect(r.headers['x-set']).toBe('yes')
      expect(server.server.requests).toBe(before + 1)
    } finally {
      await server.close()
    }
  })

  it('serves a file changed on disk with its new content and validators', async () => {
    const server = await listen(build(xypriss, { title: 'defaults' }, 'top'))
    const file = path.join(root, 'changing.txt')
    try {
      fs.writeFileSync(file, 'first version')
      const first = await request(server.port, 'GET', '/changing.txt')
      expect(first.body.toString()).toBe('first version')
      fs.writeFileSync(file, 'second version!')
      const second = await request(server.port, 'GET', '/changing.txt')
      expect(second.body.toString()).toBe('second version!')
      expect(second.headers.etag).not.toBe(first.headers.etag)
      fs.rmSync(file)
      expect((await request(server.port, 'GET', '/changing.txt')).status).toBe(418)
    } finally {
      fs.rmSync(file, { force: true })
      await server.close()
    }
  })
})
