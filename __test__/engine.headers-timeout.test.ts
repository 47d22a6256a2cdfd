import http from 'node:http'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, xypriss } from './helpers'

// server.headersTimeout as Node applies it: a connection whose request head has not come whole
// within it gets `408 Request Timeout` and is closed, counted from the connection's start or the
// first byte of the head (bytes trickling in do not restart it). An idle kept-alive connection is
// closed without a word keepAliveTimeout (+1 s, as Node) after its last answer. The same app on
// node:http and on the engine; the timeouts set before listen() on one engine server, after on another.

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')
const TIMEOUT_408 = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'

function app(framework: any) {
  const a = framework()
  a.get('/', (req: any, res: any) => res.send('ok'))
  return a
}

function start(server: any): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

/** Writes `steps` ([delay ms, bytes]) in turn; resolves with what came back and when it closed. */
function probe(port: number, steps: [number, string][], capMs = 5000): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const started = Date.now()
    let text = ''
    const cap = setTimeout(() => socket.destroy(), capMs)
    socket.on('data', (d) => (text += d.toString('latin1')))
    socket.on('close', () => {
      clearTimeout(cap)
      resolve({ text: maskDate(text), ms: Date.now() - started })
    })
    socket.on('error', () => {})
    let i = 0
    const next = () => {
      if (i >= steps.length) return
      const [delay, bytes] = steps[i++]
      setTimeout(() => {
        if (socket.destroyed) return
        socket.write(bytes)
        next()
      }, delay)
    }
    next()
  })
}

const servers: { node?: http.Server; before?: any; after?: any } = {}
const ports: Record<'node' | 'before' | 'after', number> = { node: 0, before: 0, after: 0 }

beforeAll(async () => {
  // Node checks expired heads every connectionsCheckingInterval (30 s by default): made short here.
  servers.node = http.createServer({ connectionsCheckingInterval: 25, headersTimeout: 500, keepAliveTimeout: 300 } as any, app(express))
  ports.node = await start(servers.node)
  servers.before = xypriss.createHttpServer(app(xypriss))
  servers.before.headersTimeout = 500
  servers.before.keepAliveTimeout = 300
  ports.before = await start(servers.before)
  servers.after = xypriss.createHttpServer(app(xypriss))
  ports.after = await start(servers.after)
  servers.after.headersTimeout = 500
  servers.after.keepAliveTimeout = 300
})
afterAll(async () => {
  for (const server of Object.values(servers)) await new Promise((r) => server.close(r))
})

const GET = 'GET / HTTP/1.1\r\nHost: t\r\n\r\n'
const cases: [title: string, steps: [number, string][], expected: string, fromMs: number][] = [
  ['a connection that sends nothing', [], TIMEOUT_408, 0],
  ['a head that stops halfway', [[0, 'GET / HTTP/1.1\r\nHost: t\r\n']], TIMEOUT_408, 0],
  ['one empty line, then nothing', [[0, '\r\n']], TIMEOUT_408, 0],
  ['a head trickling in, a line every 100 ms', [[0, 'GET / HTTP/1.1\r\n'], ...Array.from({ length: 15 }, (_, i): [number, string] => [100, `X-${i}: y\r\n`])], TIMEOUT_408, 0],
  ['a second head that stops halfway', [[0, GET], [200, 'GET /2 HTTP/1.1\r\n']], 'ok' + TIMEOUT_408, 200],
]

describe('server.headersTimeout', () => {
  it("defaults to Node's 60 s", () => {
    expect(new http.Server().headersTimeout).toBe(60_000)
    expect(xypriss.createHttpServer(() => {}).headersTimeout).toBe(60_000)
  })

  for (const [title, steps, expected, fromMs] of cases) {
    it(`${title}: 408 and the close`, async () => {
      const [node, before, after] = await Promise.all([probe(ports.node, steps), probe(ports.before, steps), probe(ports.after, steps)])
      expect(node.text.endsWith(expected)).toBe(true)
      for (const engine of [before, after]) {
        expect(engine.text).toBe(node.text)
        expect(engine.ms - fromMs).toBeGreaterThanOrEqual(450)
        expect(engine.ms - fromMs).toBeLessThan(3000)
      }
    })
  }

  it('an idle kept-alive connection is closed without a word after keepAliveTimeout + 1 s', async () => {
    const [node, before, after] = await Promise.all([probe(ports.node, [[0, GET]]), probe(ports.before, [[0, GET]]), probe(ports.after, [[0, GET]])])
    expect(node.text).toMatch(/\r\n\r\nok$/)
    for (const result of [node, before, after]) {
      expect(result.ms).toBeGreaterThanOrEqual(1200)
      expect(result.ms).toBeLessThan(4000)
    }
    expect(before.text).toBe(node.text)
    expect(after.text).toBe(node.text)
  })

  it('a head that comes whole in time is answered, even if it took most of the timeout', async () => {
    const steps: [number, string][] = [[0, 'GET / HTTP/1.1\r\n'], [300, 'Host: t\r\nConnection: close\r\n\r\n']]
    const [node, engine] = await Promise.all([probe(ports.node, steps), probe(ports.after, steps)])
    expect(node.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*ok$/)
    expect(engine.text).toBe(node.text)
  })
})
