// One reading of the request target: the engine's (route mirror, native 404), the JS side's
// (req.path, the router, mounted apps) and Express's on node:http, compared over seeded
// generated targets sent as raw bytes to every server.
import http from 'node:http'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readTarget } from '../lib/target'
import { express, listen, xypriss, type Running } from './helpers'
import { RawClient, type RawReply } from './raw-client'

const require = createRequire(import.meta.url)
const native = require('../binding/index.js')
const encodeUrl: (url: string) => string = require('encodeurl')
const escapeHtml: (text: string) => string = require('escape-html')

/** splitmix32: seeded, so a failing case replays. */
function generator(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  return { below: (n: number) => next() % n, pick: <T>(items: readonly T[]) => items[next() % items.length] }
}

const hex = '0123456789abcdefABCDEF'
const STARTS = ['/', '/', '/', '/a', '/A/', '/m', '/m/', '//', '//u@h', '/\\', 'http://h', 'HTTP://u:p@h:80', 'http://h/m', 'ws://h', 'x://h', 'http://', 'http://h?', 'http://a%40b', "http://h;'", 'http://a:b', '*', '']
const PIECES = ['/', '/', '/', 'a', 'm', 'x', 'A', '\\', '#', '?', '//', '@', '.', '..', ';', '=', '&', "'", '"', '<', '>', '^', '`', '{', '|', '}', '~', '*', ':', '!', '$', '(', ')', '[', ']', '+', ',', '-', '_', '%', 'http://h/']
// Bytes Node's parser refuses in a target: the engine must refuse them too.
const REFUSED = ['\t', ' ', '\x00', '\x01', '\x7f', '\x80', '\xa0', '\xe9', '\xff', '\r']

function generateTarget(g: ReturnType<typeof generator>): string {
  let target = g.pick(STARTS)
  const count = g.below(9)
  for (let i = 0; i < count; i++) {
    const roll = g.below(20)
    if (roll < 3) target += '%' + g.pick([...hex]) + g.pick([...hex])
    else if (roll === 3 && g.below(4) === 0) target += g.pick(REFUSED)
    else target += g.pick(PIECES)
  }
  // A space at either end would be one more space between the parts of the request line (which
  // Node takes), not a byte of the target.
  target = target.replace(/^ +| +$/g, '')
  return target === '' ? '/' : target
}

const CASES = 3000

describe('the engine reads a target as JS does', () => {
  it('for generated strings of every kind, as the engine computes it', () => {
    const g = generator(0x7a26e7)
    const escapes = Array.from({ length: 256 }, (_, b) => ['%' + b.toString(16).padStart(2, '0'), '%' + b.toString(16).padStart(2, '0').toUpperCase()]).flat()
    const alphabet = [...PIECES, ...STARTS, ...REFUSED, 'http://', 'Ftp://h', 'a+b.c-1://h/', 'é', '\u2028', ...escapes]
    for (let i = 0; i < 200_000; i++) {
      let s = ''
      for (let n = g.below(8); n > 0; n--) s += g.pick(alphabet)
      const engine = native.readTarget(s)
      const js = readTarget(s)
      expect([s, js.pathname, js.query], `case ${i}`).toEqual([s, engine.pathname ?? null, engine.query ?? null])
    }
  })
})

interface Echo {
  url: string
  originalUrl: string
  path: string | null
  query: unknown
  under: string | null
  mounted: { url: string; path: string; baseUrl: string } | null
}

function echoApp(framework: any) {
  const app = framework()
  app.use('/a', (req: any, res: any, next: any) => {
    res.locals.under = req.baseUrl
    next()
  })
  const sub = framework()
  sub.use((req: any, res: any, next: any) => {
    res.locals.mounted = { url: req.url, path: req.path, baseUrl: req.baseUrl }
    next('router')
  })
  app.use('/m', sub)
  app.use((req: any, res: any) =>
    res.json({
      url: req.url,
      originalUrl: req.originalUrl,
      path: req.path ?? null,
      query: req.query,
      under: res.locals.under ?? null,
      mounted: res.locals.mounted ?? null,
    }),
  )
  return app
}

/**
 * Targets whose path Express reads through url.parse, which rewrites it: an origin-form target
 * with a `#` and, before its `?`/`#`, a `\` or a character url.parse escapes, or a `//user@host`
 * start; any other form with such a character, or an absolute-form target whose authority
 * url.parse splits otherwise than RFC 3986. The engine reads the path as sent
 * (docs/request-target.md).
 */
function expressRewrites(target: string): boolean {
  const pathPart = target.split('#')[0].split('?')[0]
  const escaped = /[\\"'<>^`{|}]/.test(pathPart)
  if (target.startsWith('/')) return target.includes('#') && (escaped || /^\/\/[^@/]+@[^@/]+/.test(target))
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(target)
  if (!absolute) return escaped
  const rest = target.slice(absolute[0].length)
  const authority = rest.slice(0, rest.search(/[/?#]|$/))
  const usual = /^([A-Za-z0-9.:-]*@)?([A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]*\])(:[0-9]*)?$/.test(authority)
  return !usual || escaped
}

/** Express's router match for app.use('/a'): path-to-regexp, case-insensitive, not strict. */
const UNDER_A = /^\/a(?:\/|$)/i

function json(reply: RawReply): Echo {
  return JSON.parse(reply.body.toString('latin1'))
}

describe('over the wire: Express on node:http, the JS side and the engine read each target alike', () => {
  let onNode: Running
  let onEngine: Running
  let routesOnly: Running
  beforeAll(async () => {
    onNode = await listen(echoApp(express))
    onEngine = await listen(echoApp(xypriss))
    const app = xypriss()
    // Nothing can match: the engine answers every path alone, with Express's 404 for its reading.
    app.get('/-never-/:x', (_req: any, res: any) => res.send('matched'))
    routesOnly = await listen(app)
  })
  afterAll(async () => {
    await onNode?.close()
    await onEngine?.close()
    await routesOnly?.close()
  })

  it(`every escaped byte and ${CASES - 512} seeded targets: refused alike, the same req.url, req.originalUrl, req.path, req.query, mounts and native 404`, async () => {
    const g = generator(0x5eed)
    const clients = [new RawClient(onNode.port), new RawClient(onEngine.port), new RawClient(routesOnly.port)]
    const failures: string[] = []
    let accepted = 0
    let rewritten = 0
    let answeredNatively = 0
    let refusedByHyper = 0
    let absoluteForm = 0
    const handedBefore = routesOnly.server.requests
    try {
      // Every byte escaped, in both cases, then the generated targets.
      const targets: string[] = []
      for (let b = 0; b < 256; b++) {
        const escaped = '%' + b.toString(16).padStart(2, '0')
        targets.push(`/m/x${escaped}${g.pick(PIECES)}`, `/a${escaped.toUpperCase()}${g.pick(PIECES)}`)
      }
      while (targets.length < CASES) targets.push(generateTarget(g))
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]
        const [node, engine, native404] = await Promise.all(clients.map((c) => c.get(target)))
        const fail = (what: string) => failures.push(`case ${i} ${JSON.stringify(target)}: ${what}`)
        const nodeRefused = node.status === 400 && node.body.length === 0
        const engineRefused = engine.status === 400 && engine.body.length === 0
        if ((native404.status === 400) !== engineRefused) fail(`engine ${engine.status} / ${native404.status}`)
        // The engine refuses every target Node refuses. It takes every origin-form target Node
        // takes; hyper's parser refuses some other forms Node takes (a `%` in an authority,
        // `*` followed by more): those get a 400, never another reading.
        if (nodeRefused !== engineRefused && (nodeRefused || target.startsWith('/'))) {
          fail(`node ${node.status}, engine ${engine.status}`)
          continue
        }
        if (engineRefused) {
          if (!nodeRefused) refusedByHyper++
          continue
        }
        accepted++
        const reading = readTarget(target)
        const rewrites = expressRewrites(target)
        if (rewrites) rewritten++
        if (reading.pathname === null) {
          // No path: the router runs no layer, finalhandler's 404 names "null", as Express's.
          if (engine.status !== 404 || (!rewrites && (node.status !== 404 || !engine.body.equals(node.body)))) fail(`no path: ${engine.status} ${node.status}`)
          continue
        }
        if (engine.status !== 200) {
          fail(`engine answered ${engine.status} ${engine.body.toString('latin1').slice(0, 300)}`)
          continue
        }
        const ours = json(engine)
        // req.originalUrl: the target byte for byte, as Node gives it (req.url too, but where
        // router@2 gives it back from a mount with a `/` added, as Express does: `/m#` as `/m/#`).
        if (ours.originalUrl !== target) fail(`originalUrl ${ours.originalUrl}`)
        // The JS side reads req.url as readTarget does (the engine's reading: see the first test).
        if (ours.path !== readTarget(ours.url).pathname) fail(`path ${ours.path} of url ${ours.url}`)
        // The engine's 404 page names the path it read (or JS's finalhandler does, for a path
        // that is not one the route mirror takes).
        const page = `<pre>Cannot GET ${escapeHtml(encodeUrl(String(reading.pathname)))}</pre>`
        if (native404.status !== 404 || !native404.body.toString('latin1').includes(page)) {
          fail(`routes-only ${native404.status} ${native404.body.toString('latin1').slice(0, 200)}`)
        }
        if (reading.pathname?.startsWith('/')) answeredNatively++
        if (!target.startsWith('/') && target.includes('://')) absoluteForm++
        // The route mirror picks the layers for the path JS reads.
        const under = reading.pathname !== null && UNDER_A.test(reading.pathname)
        if ((ours.under !== null) !== under) fail(`app.use('/a') ran: ${ours.under}, path ${reading.pathname}`)
        // Express's answer where it reads the target as sent: the same in every detail.
        if (rewrites) continue
        if (node.status !== 200) {
          fail(`express answered ${node.status}`)
          continue
        }
        const theirs = json(node)
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) fail(`ours ${JSON.stringify(ours)}, express ${JSON.stringify(theirs)}`)
      }
    } finally {
      for (const c of clients) c.close()
    }
    expect(failures.slice(0, 20)).toEqual([])
    // The generator reaches every kind of target.
    expect(accepted).toBeGreaterThan(CASES / 2)
    expect(accepted).toBeLessThan(CASES)
    expect(rewritten).toBeGreaterThan(20)
    expect(refusedByHyper).toBeLessThan(CASES / 4)
    expect(absoluteForm).toBeGreaterThan(CASES / 20)
    // Only targets without a `/` path reached JS on the routes-only app.
    expect(routesOnly.server.requests - handedBefore).toBe(accepted - answeredNatively)
  })
})

// Each finding, named after its cause.
describe('regressions', () => {
  function guardedRoutes(framework: any) {
    const app = framework()
    app.use('/private', (_req: any, res: any) => res.status(401).send('denied'))
    app.get('/private/key.txt', (_req: any, res: any) => res.send('secret'))
    app.get('/echo', (req: any, res: any) => res.json({ url: req.url, path: req.path }))
    return app
  }
  let onEngine: Running
  let jsAlone: { port: number; close(): Promise<void> }
  beforeAll(async () => {
    onEngine = await listen(guardedRoutes(xypriss))
    // The same app as a listener of Node's own server: JS reads the target alone.
    const server = http.createServer(guardedRoutes(xypriss))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    jsAlone = { port: (server.address() as any).port, close: () => new Promise<void>((done) => server.close(() => done())) }
  })
  afterAll(async () => {
    await onEngine?.close()
    await jsAlone?.close()
  })

  async function get(port: number, target: string): Promise<RawReply> {
    const client = new RawClient(port)
    try {
      return await client.get(target)
    } finally {
      client.close()
    }
  }

  it('the native 404 cut a target at its fragment while JS handed it to url.parse: a guarded route answers alike natively and in JS', async () => {
    for (const target of ['/private\\key.txt#', '//a@b/private/key.txt#', '/private/key.txt#x', "/private'#"]) {
      const [engine, js] = await Promise.all([get(onEngine.port, target), get(jsAlone.port, target)])
      expect([target, engine.status, engine.body.toString()]).toEqual([target, js.status, js.body.toString()])
    }
  })

  it('url.parse gives //u@h#x no path and the router read its length: the process died', async () => {
    for (const target of ['//u@h#x', '//u@h?q#x', 'x://h']) {
      const [engine, js] = await Promise.all([get(onEngine.port, target), get(jsAlone.port, target)])
      expect([target, engine.status, engine.body.toString()]).toEqual([target, js.status, js.body.toString()])
    }
    const after = await get(onEngine.port, '/echo')
    expect(after.status).toBe(200)
  })

  it('parseurl (serve-static, finalhandler) hands a target with a fragment to url.parse: it gets the one reading from req._parsedUrl', async () => {
    const parseurl = require('parseurl')
    const app = xypriss()
    app.use('/mnt', (req: any, res: any) =>
      res.json({ path: parseurl(req).pathname, original: parseurl.original(req).pathname, query: parseurl(req).query }),
    )
    const running = await listen(app)
    try {
      for (const [target, path, original, query] of [
        ['/mnt/a\\b?x=1#f', '/a\\b', '/mnt/a\\b', 'x=1'],
        ['/mnt//u@h/p#', '//u@h/p', '/mnt//u@h/p', null],
        ["/mnt/it's#", "/it's", "/mnt/it's", null],
      ]) {
        const r = await get(running.port, target as string)
        expect([target, JSON.parse(r.body.toString())]).toEqual([target, { path, original, query }])
      }
    } finally {
      await running.close()
    }
  })

  it('hyper rebuilt an absolute-form target: req.url is the target as sent', async () => {
    for (const target of ['HTTP://h/echo', 'http://u@h:80/echo?x#y']) {
      const r = await get(onEngine.port, target)
      expect([target, r.status, JSON.parse(r.body.toString())]).toEqual([target, 200, { url: target, path: '/echo' }])
    }
  })

  it("hyper took targets Node's parser refuses: they get Node's 400", async () => {
    for (const target of ['~m', ')x', 'a/b', 'h1://x/y', 'http:/a', 'http://a`b/', 'http://a{/']) {
      const r = await get(onEngine.port, target)
      expect([target, r.status, r.body.length]).toEqual([target, 400, 0])
    }
  })
})
