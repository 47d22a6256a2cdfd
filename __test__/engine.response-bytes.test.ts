import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { onBoth } from './helpers'

// A response body is the app's bytes, whatever they look like. The engine writes a few head bytes
// the way Node does (HTTP/1.1 to HTTP/1.0 clients, chunk sizes in lower case, refusals without a
// Content-Length); bodies made of exactly such shapes (a refusal, a status line, `Content-Length: 0`,
// a chunk-size line), buffered, streamed, chunked, pipelined, for HTTP/1.1 and HTTP/1.0 clients,
// must come out as Express on node:http sends them.

const REFUSAL = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'
const STATUS_LINES = 'HTTP/1.0 200 OK\r\nA: b\r\n\r\nHTTP/1.0 304 Not Modified\r\n\r\n'
const TEN = '0123456789'

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')
const later = (f: () => void, ms = 15) => setTimeout(f, ms)

function transcript(port: number, payload: string, capMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    const done = (suffix: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(maskDate(text) + suffix)
    }
    const timer = setTimeout(() => done(' <open>'), capMs)
    socket.on('data', (d) => (text += d.toString('latin1')))
    socket.on('close', () => done(' <closed>'))
    socket.on('error', () => {})
    socket.write(Buffer.from(payload, 'latin1'))
  })
}

function build(framework: any) {
  const app = framework()
  // Buffered: the whole body in one call.
  app.get('/buffered/refusal', (req: any, res: any) => res.type('text').send(REFUSAL))
  app.get('/buffered/status-lines', (req: any, res: any) => res.type('text').send(STATUS_LINES))
  app.get('/buffered/chunk-size', (req: any, res: any) => res.type('text').send(`A\r\n${TEN}\r\n`))
  // Streamed with a Content-Length, the head sent first: the body goes out as the app writes it.
  app.get('/length/refusal', (req: any, res: any) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(REFUSAL.length) })
    res.flushHeaders()
    later(() => res.end(REFUSAL))
  })
  app.get('/length/status-lines', (req: any, res: any) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(STATUS_LINES.length) })
    res.flushHeaders()
    later(() => res.end(STATUS_LINES))
  })
  app.get('/length/chunk-size', (req: any, res: any) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(3 + TEN.length + 2) })
    res.flushHeaders()
    // Three writes at once: a size line, ten bytes, a CRLF.
    later(() => {
      res.write('A\r\n')
      res.write(TEN)
      res.end('\r\n')
    })
  })
  app.get('/length/content-length-zero', (req: any, res: any) => {
    const body = 'Content-Length: 0\r\n\r\n'
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) })
    res.flushHeaders()
    later(() => res.end(body))
  })
  // Chunked: each write one chunk (one write per tick, so Node frames them one by one too).
  app.get('/chunked/shapes', (req: any, res: any) => {
    res.type('text')
    const parts = [REFUSAL, 'A\r\n', TEN, STATUS_LINES, 'Content-Length: 0\r\n', 'x'.repeat(1100)]
    const next = () => {
      const part = parts.shift()
      if (part === undefined) return res.end()
      res.write(part)
      later(next, 5)
    }
    next()
  })
  // Heads the app writes itself that look like the engine's refusals stay as written.
  app.get('/app-refusal', (req: any, res: any) => {
    res.sendDate = false
    res.writeHead(400, { Connection: 'close', 'Content-Length': '0' })
    res.end()
  })
  app.get('/status/:code', (req: any, res: any) => {
    res.status(Number(req.params.code))
    res.write('x'.repeat(1100))
    res.end()
  })
  app.post('/continue', (req: any, res: any) => {
    req.resume()
    req.on('end', () => {
      res.write('A\r\n')
      later(() => res.end('x'.repeat(1100)))
    })
  })
  return app
}

const close = 'Connection: close\r\n'
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`
const get10 = (path: string, extra = '') => `GET ${path} HTTP/1.0\r\n${extra}\r\n`

const cases: [title: string, payload: string][] = [
  ['a buffered body that is a refusal', get('/buffered/refusal', close)],
  ['a buffered body of status lines', get('/buffered/status-lines', close)],
  ['a buffered body shaped as a chunk', get('/buffered/chunk-size', close)],
  ['a streamed body that is a refusal', get('/length/refusal', close)],
  ['a streamed body of status lines', get('/length/status-lines', close)],
  ['a streamed body written as a size line, ten bytes and a CRLF', get('/length/chunk-size', close)],
  ['a streamed body that is a Content-Length: 0 line', get('/length/content-length-zero', close)],
  ['a chunked body made of every shape', get('/chunked/shapes', close)],
  ["an app's own 400 with Connection: close and Content-Length: 0", get('/app-refusal')],
  ['HTTP/1.0: a buffered body of status lines', get10('/buffered/status-lines')],
  ['HTTP/1.0: a streamed body of status lines', get10('/length/status-lines')],
  ['HTTP/1.0: a streamed body that is a refusal', get10('/length/refusal')],
  ['HTTP/1.0: a streamed body shaped as chunks, unframed', get10('/chunked/shapes')],
  [
    'pipelined: every shape, buffered then streamed then chunked, then a close',
    get('/buffered/refusal') + get('/length/refusal') + get('/buffered/status-lines') + get('/length/chunk-size') + get('/chunked/shapes') + get('/length/status-lines', close),
  ],
  [
    'pipelined HTTP/1.0 keep-alive requests with bodies shaped as heads',
    get10('/buffered/status-lines', 'Connection: keep-alive\r\n') + get10('/length/status-lines', 'Connection: keep-alive\r\n') + get10('/length/refusal'),
  ],
  // Answers without a body (HEAD, 204, 304, 100 Continue) before chunked ones: the chunk sizes
  // of the next answer are still found where they are.
  ['pipelined: HEAD of a buffered body, then a chunked answer', `HEAD /buffered/refusal HTTP/1.1\r\nHost: t\r\n\r\n` + get('/chunked/shapes', close)],
  ['pipelined: HEAD of a streamed body, then a chunked answer', `HEAD /length/refusal HTTP/1.1\r\nHost: t\r\n\r\n` + get('/chunked/shapes', close)],
  ['pipelined: a 204 then a chunked answer', get('/status/204') + get('/chunked/shapes', close)],
  ['pipelined: a 304 then a chunked answer', get('/status/304') + get('/chunked/shapes', close)],
  [
    '100 Continue, then a chunked answer',
    'POST /continue HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc',
  ],
]

describe("response bodies are the app's bytes", () => {
  const both = onBoth(build)
  for (const [title, payload] of cases) {
    it(title, async () => {
      const [node, engine] = await Promise.all([transcript(both.express.port, payload), transcript(both.xypriss.port, payload)])
      expect(node).toMatch(/^HTTP\/1\.1 /)
      expect(engine).toBe(node)
    })
  }
})
