// Differential harness for xypriss.helmet / cors / rateLimit: the same options on express@5 with
// the npm package, and on xypriss in both placements (compiled into the native prelude at the
// top of the app, and as ordinary JS middleware after a JS layer), compared byte for byte.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { expect } from 'vitest'
import { express, listen, request, sentHead, xypriss, type Reply, type Running } from './helpers'

const require = createRequire(import.meta.url)
export const npm = {
  helmet: require('helmet'),
  cors: require('cors'),
  rateLimit: require('express-rate-limit').rateLimit,
}

export type Kind = 'helmet' | 'cors' | 'rateLimit'
export type Placement = 'native' | 'js'

/** The option sets recorded from the packages themselves (crates/xsys-security/tests/fixtures). */
export const fixture = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'crates', 'xsys-security', 'tests', 'fixtures', 'security.json'), 'utf8'),
)

/**
 * The fixture's tagged JSON back into the JS value (see gen.mjs); `$function` becomes
 * `functions(path)`, the function a case stands for at that option path.
 */
export function decode(value: any, functions: (at: string) => unknown = () => () => undefined, at = ''): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v, i) => decode(v, functions, `${at}[${i}]`))
  const [tag, inner] = Object.entries(value)[0] as [string, any]
  switch (tag) {
    case '$o': {
      const out: Record<string, unknown> = {}
      for (const [k, v] of inner) out[k] = decode(v, functions, at ? `${at}.${k}` : k)
      return out
    }
    case '$undefined':
      return undefined
    case '$function':
      return functions(at)
    case '$symbol':
      return inner === 'dangerouslyDisableDefaultSrc' ? npm.helmet.contentSecurityPolicy.dangerouslyDisableDefaultSrc : Symbol(inner)
    case '$regexp':
      return new RegExp(inner[0], inner[1])
    case '$number':
      return Number(inner)
    case '$bytes':
      return Buffer.from(inner)
    default:
      throw new Error(`unknown tag ${tag}`)
  }
}

/** The routes every compared app has after the middleware under test. */
function routes(app: any) {
  app.get('/text', (req: any, res: any) => res.send('hi'))
  // what the middleware left on the response, read and changed from JS
  app.get('/read', (req: any, res: any) => {
    const names = res.getHeaderNames().filter((n: string) => n !== 'date')
    res.json({ names, csp: res.getHeader('Content-Security-Policy') ?? null, origin: res.get('Access-Control-Allow-Origin') ?? null })
  })
  app.get('/change', (req: any, res: any) => {
    res.removeHeader('X-Frame-Options')
    res.setHeader('Referrer-Policy', 'origin')
    res.vary('Accept')
    res.append('Vary', 'X-Extra')
    res.send('changed')
  })
  app.get('/info', (req: any, res: any) => {
    const info = req.rateLimit
    res.json(info ? { limit: info.limit, used: info.used, current: info.current, remaining: info.remaining, key: info.key, reset: info.resetTime instanceof Date } : null)
  })
  app.post('/fail', (req: any, res: any) => res.status(500).send('failed'))
  app.get('/stream', (req: any, res: any) => {
    res.write('a')
    res.end('b')
  })
  app.put('/only-put', (req: any, res: any) => res.send('put'))
}

/** An app with `middleware` first (native placement) or after a JS layer (JS placement). */
export function build(framework: any, middleware: any, placement: Placement): any {
  const app = framework()
  // error pages without stack traces, which differ between the two
  app.set('env', 'production')
  if (placement === 'js') {
    app.use(function jsFirst(req: any, res: any, next: any) {
      next()
    })
  }
  app.use(middleware)
  routes(app)
  return app
}

export interface Trio {
  express: Running
  native: Running
  js: Running
  close(): Promise<void>
}

/**
 * Starts the three apps: npm's middleware on express, xypriss's at the top and after a JS layer.
 * `native`: whether the options are the engine's (else the top one must say why it runs in JS).
 */
export async function trio(kind: Kind, options: () => unknown, native = true): Promise<Trio> {
  const expressApp = build(express, npm[kind](options()), 'native')
  const nativeApp = build(xypriss, xypriss[kind](options()), 'native')
  const jsApp = build(xypriss, xypriss[kind](options()), 'js')
  // the placements are what they claim to be
  const plan = nativeApp.nativePlan()
  if (native) expect(plan.stages.map((s: any) => s.kind)).toEqual([kind])
  else expect(plan.inJs[0]).toMatchObject({ index: 0, reason: expect.any(String) })
  expect(jsApp.nativePlan().stages).toEqual([])
  const running = { express: await listen(expressApp), native: await listen(nativeApp), js: await listen(jsApp) }
  return {
    ...running,
    close: async () => {
      await running.express.close()
      await running.native.close()
      await running.js.close()
    },
  }
}

export interface Req {
  method: string
  path: string
  headers?: Record<string, string>
}

/** What must be equal: status, the head as sent (Date's value masked), the body. */
export function view(r: Reply) {
  return { status: r.status, head: sentHead(r), body: r.body.toString('latin1') }
}

/** Sends `req` to the three apps in turn and expects byte-identical replies. */
export async function same(t: Trio, req: Req, label = `${req.method} ${req.path}`): Promise<Reply> {
  const options = { headers: req.headers }
  const a = await request(t.express.port, req.method, req.path, options)
  const b = await request(t.native.port, req.method, req.path, options)
  const c = await request(t.js.port, req.method, req.path, options)
  expect(view(b), `native placement, ${label}`).toEqual(view(a))
  expect(view(c), `JS placement, ${label}`).toEqual(view(a))
  return a
}

/** Waits for the start of a wall-clock second, so replies that print seconds agree across apps. */
export async function startOfSecond(): Promise<void> {
  for (;;) {
    const ms = Date.now() % 1000
    if (ms < 30) return
    await new Promise((r) => setTimeout(r, 1000 - ms))
  }
}

/** Collects what `fn` prints through console.warn / console.error. */
export function printed(fn: () => unknown): { value: unknown; warn: string[]; error: string[] } {
  const warn: string[] = []
  const error: string[] = []
  const original = { warn: console.warn, error: console.error }
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? `${a.name}: ${a.message} [${(a as any).code ?? ''}]` : String(a))).join(' ')
  console.warn = (...args: unknown[]) => void warn.push(text(args))
  console.error = (...args: unknown[]) => void error.push(text(args))
  try {
    return { value: fn(), warn, error }
  } finally {
    console.warn = original.warn
    console.error = original.error
  }
}

/** What a setup throws: its constructor's name and message, or null. */
export function thrown(fn: () => unknown): { type: string; message: string } | null {
  try {
    fn()
    return null
  } catch (e: any) {
    return { type: e.constructor.name, message: e.message }
  }
}
