// A body parser at the top of the app (express.json / urlencoded / raw / text) compiles into the
// native prelude as its limit: a request whose declared Content-Length is over the limit, of a
// type the parser takes, has its body left unread by the engine (no 100 Continue, the
// connection closed after the response), while the parser still runs in JS and makes Express's
// 413. Everything else is read as before. Differential against express@5: status, body and
// every header but Connection / Date / Keep-Alive; the engine's decision is checked against
// type-is itself through the Connection it answers a keep-alive request with.
import { spawn } from 'node:child_process'
import http from 'node:http'
import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, onBoth, raw, type Reply, type Running, xypriss } from './helpers'

const require = createRequire(import.meta.url)
const typeis = require('type-is')
const npmHelmet = require('helmet')

interface Parser {
  path: string
  make: (f: any) => any
  limit: number
  type: string | string[]
  takes: string
  other: string
  /** A body of exactly `n` bytes the parser accepts. */
  body: (n: number) => string
}

const PARSERS: Parser[] = [
  {
    path: '/json',
    make: (f) => f.json({ limit: 100 }),
    limit: 100,
    type: 'application/json',
    takes: 'application/json; charset=utf-8',
    other: 'text/plain',
    body: (n) => `{"a":"${'x'.repeat(n - 8)}"}`,
  },
  {
    path: '/json-kb',
    make: (f) => f.json({ limit: '1kb', type: ['json', '+json'] }),
    limit: 1024,
    type: ['json', '+json'],
    takes: 'application/ld+json',
    other: 'application/x-www-form-urlencoded',
    body: (n) => `{"a":"${'x'.repeat(n - 8)}"}`,
  },
  {
    path: '/form',
    make: (f) => f.urlencoded({ limit: 50, extended: false }),
    limit: 50,
    type: 'application/x-www-form-urlencoded',
    takes: 'Application/X-WWW-Form-Urlencoded',
    other: 'application/json',
    body: (n) => `a=${'x'.repeat(n - 2)}`,
  },
  {
    path: '/raw',
    make: (f) => f.raw({ limit: 64 }),
    limit: 64,
    type: 'application/octet-stream',
    takes: 'application/octet-stream',
    other: 'text/plain',
    body: (n) => 'x'.repeat(n),
  },
  {
    path: '/text',
    make: (f) => f.text({ limit: '20b', type: 'text/*' }),
    limit: 20,
    type: 'text/*',
    takes: 'text/csv',
    other: 'application/octet-stream',
    body: (n) => 'x'.repeat(n),
  },
]

/** The parsers at the top, each under its path, then what the handler saw. */
function build(f: any, errors: 'default' | 'custom', before?: (app: any) => void) {
  const app = f()
  app.set('env', 'production')
  before?.(app)
  for (const parser of PARSERS) app.use(parser.path, parser.make(f))
  app.use((req: any, res: any) => {
    const body = Buffer.isBuffer(req.body) ? { buffer: req.body.length } : (req.body ?? null)
    res.json({ body })
  })
  if (errors === 'custom') {
    app.use((err: any, _req: any, res: any, _next: any) => {
      res.status(err.status ?? 500).json({ type: err.type, message: err.message, expected: err.expected, limit: err.limit })
    })
  }
  return app
}

const agents: http.Agent[] = []
afterAll(() => {
  for (const agent of agents) agent.destroy()
})

/** A keep-alive request; `chunked` sends the body without a Content-Length. */
function send(port: number, path: string, headers: Record<string, string>, body: Buffer | string, agent: http.Agent, chunked = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const all = chunked ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: all, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (chunked) {
      req.write(body)
      req.end()
    } else req.end(body)
  })
}

const IGNORED = new Set(['connection', 'date', 'keep-alive'])

/** The head as sent (names in their case, in order) without the connection's own headers. */
function head(r: Reply): string[] {
  const lines: string[] = []
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    if (!IGNORED.has(r.rawHeaders[i].toLowerCase())) lines.push(`${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}`)
  }
  return lines
}

interface Case {
  title: string
  path: string
  headers: Record<string, string>
  body: Buffer | string
  chunked?: boolean
  /** Whether the engine leaves the body unread (it answers `Connection: close`). */
  refused: boolean
}

function cases(): Case[] {
  const out: Case[] = []
  for (const parser of PARSERS) {
    const lengths = [parser.limit - 1, parser.limit, parser.limit + 1, parser.limit * 10]
    for (const length of lengths) {
      for (const contentType of [parser.takes, parser.other]) {
        // the decision as type-is and raw-body make it
        const refused = Boolean(typeis.is(contentType, parser.type)) && length > parser.limit
        out.push({
          title: `${parser.path}: ${length} bytes (limit ${parser.limit}) of ${contentType}`,
          path: parser.path,
          headers: { 'Content-Type': contentType },
          body: parser.body(length),
          refused,
        })
      }
    }
    // counted as it comes: never refused before reading
    out.push({
      title: `${parser.path}: chunked, over the limit`,
      path: parser.path,
      headers: { 'Content-Type': parser.takes },
      body: parser.body(parser.limit * 2),
      chunked: true,
      refused: false,
    })
  }
  // a compressed body is counted as it inflates: under the limit as sent, over it inflated
  const inflated = PARSERS[0].body(400)
  out.push({
    title: '/json: gzip, over the limit once inflated',
    path: '/json',
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    body: zlib.gzipSync(inflated),
    refused: false,
  })
  out.push({
    title: '/json: gzip, under the limit once inflated',
    path: '/json',
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    body: zlib.gzipSync(PARSERS[0].body(60)),
    refused: false,
  })
  out.push({
    title: '/json: identity, over the limit',
    path: '/json',
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'Identity' },
    body: inflated,
    refused: true,
  })
  // no parser mounted there takes it
  out.push({ title: '/elsewhere: over every limit', path: '/elsewhere', headers: { 'Content-Type': 'application/json' }, body: inflated, refused: false })
  return out
}

function differential(errors: 'default' | 'custom', before?: (f: any) => (app: any) => void) {
  const both = onBoth((f) => build(f, errors, before?.(f)))
  const onExpress = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const onXypriss = new http.Agent({ keepAlive: true, maxSockets: 1 })
  agents.push(onExpress, onXypriss)
  for (const c of cases()) {
    it(c.title, async () => {
      const a = await send(both.express.port, c.path, c.headers, c.body, onExpress, c.chunked)
      const b = await send(both.xypriss.port, c.path, c.headers, c.body, onXypriss, c.chunked)
      expect(b.status).toBe(a.status)
      expect(b.body.toString('latin1')).toBe(a.body.toString('latin1'))
      expect(head(b)).toEqual(head(a))
      expect(a.headers.connection).toBe('keep-alive')
      expect(b.headers.connection).toBe(c.refused ? 'close' : 'keep-alive')
    })
  }
}

describe('body limits with the default error handler, as express@5', () => {
  differential('default')
})

describe('body limits with a custom error handler, as express@5', () => {
  differential('custom')
})

describe('body limits after helmet (native on xypriss, the npm package on Express)', () => {
  differential('custom', (f) => (app) => app.use(f === xypriss ? xypriss.helmet() : npmHelmet()))
})

describe('a parser after a JS middleware', () => {
  const both = onBoth((f) => {
    const app = f()
    app.set('env', 'production')
    app.use((_req: any, _res: any, next: any) => next())
    app.use(f.json({ limit: 10 }))
    app.use((req: any, res: any) => res.json(req.body ?? null))
    return app
  })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  agents.push(agent)

  it('is not compiled, and its body is read as before', async () => {
    const body = '{"a":"xxxxxxxxxxxxxxxxxxxx"}'
    const a = await send(both.express.port, '/', { 'Content-Type': 'application/json' }, body, agent)
    const b = await send(both.xypriss.port, '/', { 'Content-Type': 'application/json' }, body, agent)
    expect(a.status).toBe(413)
    expect(b.status).toBe(413)
    expect(b.body.toString()).toBe(a.body.toString())
    expect(head(b)).toEqual(head(a))
    expect(b.headers.connection).toBe('keep-alive')
  })

  it('is listed in JS by app.nativePlan()', () => {
    const app = xypriss()
    app.use((_req: any, _res: any, next: any) => next())
    app.use(xypriss.json())
    expect(app.nativePlan()).toEqual({
      stages: [],
      inJs: [
        { index: 0, name: '<anonymous>', reason: 'not a native middleware' },
        { index: 1, name: 'jsonParser', reason: 'after <anonymous> (index 0), which runs in JS before it' },
      ],
    })
  })
})

describe('app.nativePlan()', () => {
  it('lists body parsers at the top as bodyLimit stages, and what comes after them in JS', () => {
    const app = xypriss()
    app.use(xypriss.helmet())
    app.use(xypriss.json({ limit: '1mb' }))
    app.use('/form', xypriss.urlencoded({ extended: false }))
    app.use(xypriss.cors())
    app.use(xypriss.text({ type: () => true }))
    expect(app.nativePlan()).toEqual({
      stages: [
        { index: 0, name: 'helmetMiddleware', kind: 'helmet', path: '/' },
        { index: 1, name: 'jsonParser', kind: 'bodyLimit', path: '/' },
        { index: 2, name: 'urlencodedParser', kind: 'bodyLimit', path: '/form' },
      ],
      inJs: [
        { index: 3, name: 'corsMiddleware', reason: 'after jsonParser (index 1), which runs in JS before it' },
        { index: 4, name: 'textParser', reason: 'after jsonParser (index 1), which runs in JS before it' },
      ],
    })
  })

  it('says why a parser with a type function stays in JS', () => {
    const app = xypriss()
    app.use(xypriss.raw({ type: () => true }))
    expect(app.nativePlan().inJs).toEqual([{ index: 0, name: 'rawParser', reason: 'its type option is a function, which only JS can call' }])
  })

  it("compiles createServer's parsers", () => {
    const app = xypriss.createServer({ server: { jsonLimit: 100 } })
    expect(app.nativePlan().stages.map((s: any) => [s.name, s.kind])).toEqual([
      ['jsonParser', 'bodyLimit'],
      ['urlencodedParser', 'bodyLimit'],
    ])
  })
})

describe('an oversized declared body', () => {
  const requests: string[] = []
  const app = xypriss()
  app.use(xypriss.json({ limit: '100kb' }))
  app.use((req: any, res: any) => {
    requests.push(req.url)
    res.json(req.body ?? null)
  })
  app.use((err: any, req: any, res: any, _next: any) => {
    requests.push(req.url)
    res.status(err.status).send(err.type)
  })
  let running: Running
  beforeAll(async () => {
    running = await listen(app)
  })
  afterAll(() => running?.close())

  const complete = (text: string) => {
    const end = text.indexOf('\r\n\r\n')
    const length = /content-length: (\d+)/i.exec(text)
    return end !== -1 && length !== null && text.length >= end + 4 + Number(length[1])
  }

  it('gets its 413 without the client sending the rest, and the server serves on', async () => {
    const head = 'POST /big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n'
    // only a few KB of the 1 GB follow: a server reading the body would never answer
    const text = await raw(running.port, head + '['.repeat(4096), complete, 10_000)
    expect(text.startsWith('HTTP/1.1 413 Payload Too Large\r\n')).toBe(true)
    expect(text).toMatch(/\r\nConnection: close\r\n/)
    expect(text.endsWith('\r\n\r\nentity.too.large')).toBe(true)
    const next = await raw(running.port, 'POST /next HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"a":1}', complete)
    expect(next.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true)
    expect(next.endsWith('{"a":1}')).toBe(true)
    expect(requests).toEqual(['/big', '/next'])
  })

  it('sent whole all the same, still gets its 413 (what comes after the answer is dropped, not reset)', async () => {
    // the client in a process of its own, so its reads race the server's close as on a network
    const client = `
      const net = require('node:net')
      const body = Buffer.alloc(10 << 20, 0x20)
      const one = () => new Promise((resolve) => {
        const socket = net.connect(${running.port}, '127.0.0.1')
        let got = ''
        socket.on('data', (d) => { got += d.toString('latin1') })
        socket.on('error', () => {})
        socket.on('close', () => resolve(got.startsWith('HTTP/1.1 413 ') && got.endsWith('entity.too.large')))
        socket.write('POST /whole HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n')
        socket.write(body)
      })
      ;(async () => {
        const answered = []
        for (let i = 0; i < 12; i++) answered.push(await one())
        process.stdout.write(JSON.stringify(answered))
      })()
    `
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', client], { stdio: ['ignore', 'pipe', 'inherit'] })
      let text = ''
      child.stdout.on('data', (d) => (text += d))
      child.on('error', reject)
      child.on('close', () => resolve(text))
    })
    expect(JSON.parse(out)).toEqual(Array(12).fill(true))
  })

  it('waiting for 100 Continue gets the 413 and no 100', async () => {
    const head = 'POST /expect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n'
    const text = await raw(running.port, head, complete, 10_000)
    expect(text.startsWith('HTTP/1.1 413 Payload Too Large\r\n')).toBe(true)
    expect(text).not.toContain('100 Continue')
    expect(text).toMatch(/\r\nConnection: close\r\n/)
  })

  it('within the limit, waiting for 100 Continue, gets it and is read as before', async () => {
    const body = '{"ok":true}'
    const head = `POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`
    const text = await new Promise<string>((resolve, reject) => {
      const socket = require('node:net').connect(running.port, '127.0.0.1')
      let got = ''
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1')
        if (got === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write(body)
      })
      socket.on('close', () => resolve(got))
      socket.on('error', reject)
      socket.write(head)
    })
    expect(text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(true)
    expect(text.endsWith(body)).toBe(true)
  })
})
