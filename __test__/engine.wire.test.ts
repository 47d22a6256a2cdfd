import { describe, expect, it } from 'vitest'
import { onBoth, raw } from './helpers'

// Requests as bytes on the wire, answered by the same app on express@5 and on xypriss: the
// target reaches req.url as sent (characters the http crate refuses, the #fragment), header lines
// reach req.rawHeaders in their case and order, and the responses are byte-identical but for the
// Date value.

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')

function build(framework: any) {
  const app = framework()
  app.all('/echo', (req: any, res: any) => res.json({ url: req.url, path: req.path, query: req.query }))
  app.all('/raw', (req: any, res: any) => res.json({ raw: req.rawHeaders, headers: req.headers, distinct: req.headersDistinct }))
  app.get('/nodate', (req: any, res: any) => {
    res.sendDate = false
    res.send('x')
  })
  app.get('/nodate-stream', (req: any, res: any) => {
    res.sendDate = false
    res.write('x')
    res.end('y')
  })
  app.get('/socket', (req: any, res: any) =>
    res.json({ encrypted: req.socket.encrypted ?? '<undefined>', has: 'encrypted' in req.socket, same: req.socket === req.connection }),
  )
  app.get('/chunks', (req: any, res: any) => {
    res.write('hello world')
    res.write(Buffer.alloc(1100, 'x'))
    res.end()
  })
  app.get('/end-body', (req: any, res: any) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.end('body')
  })
  app.get('/status/:code', (req: any, res: any) => res.status(Number(req.params.code)).send('s'))
  // names in every case an app writes them, repeated with different spellings, and a header of
  // the name the engine uses to carry spellings to its writer
  app.get('/spelled', (req: any, res: any) => {
    res.setHeader('x-lower', 'a')
    res.setHeader('X-UPPER-CASE', 'b')
    res.setHeader('WWW-Authenticate', 'Basic')
    res.setHeader('xypriss-spellings', 'the app\'s own')
    res.setHeader('Content-Security-Policy', "default-src 'none'")
    res.send('spelled')
  })
  app.get('/spelled-raw', (req: any, res: any) => {
    res.writeHead(200, ['x-dup', '1', 'X-DUP', '2', 'X-Dup', '3', 'XYPRISS-SPELLINGS', 'x', 'content-type', 'text/plain'])
    res.write('chunked ')
    res.end('body')
  })
  app.post('/body', (req: any, res: any) => {
    let body = ''
    req.setEncoding('latin1')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => res.json({ url: req.url, body }))
  })
  return app
}

const cases: [title: string, payload: string][] = [
  ['< and > in the path (404 page escapes them)', 'GET /<script>alert(1)</script> HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['a backtick in the path', 'GET /a`b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['quotes and angle brackets in the query', 'GET /echo?q="a"&r=<b>&s={"k":1} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['a fragment stays in req.url', 'GET /echo?a=1#frag HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['a byte above ASCII in the target is refused', 'GET /caf\u00e9 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  [
    'header lines in their case and order, repeats not grouped',
    'GET /raw HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-b:  2 \r\nX-A: 3\r\nCookie: a=1\r\ncookie: b=2\r\nConnection: close\r\n\r\n',
  ],
  ['res.sendDate = false leaves Date out', 'GET /nodate HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['res.sendDate = false leaves Date out of a streamed response too', 'GET /nodate-stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['a plain connection is not encrypted, and says nothing of it', 'GET /socket HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['chunk sizes in lower-case hex, as Node writes them', 'GET /chunks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['HEAD answered with end(body) announces no length, as Node', 'HEAD /end-body HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['a method Node does not know is refused', 'get /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['Content-Length with Transfer-Encoding (request smuggling) is refused', 'POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n'],
  ['a head with bare LF line ends is refused', 'GET /echo HTTP/1.1\nHost: t\nConnection: close\n\n'],
  ['oversized headers are refused with 431', `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ['a header name with a space is refused', 'GET / HTTP/1.1\r\nHost: t\r\nX Bad: 1\r\n\r\n'],
  ['a negative Content-Length is refused', 'POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n'],
  ['HTTP/1.1 without Host is refused', 'GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n'],
  ["Node's reason phrases where hyper's differ: 203", 'GET /status/203 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ["Node's reason phrases where hyper's differ: 418", 'GET /status/418 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ["Node's reason phrases where hyper's differ: 509", 'GET /status/509 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  ['an unknown code gets "unknown"', 'GET /status/299 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
  [
    'a pipeline mixing odd targets, a body shaped like a request line and an HTTP/1.0 request',
    'GET /echo?q="x"#f HTTP/1.1\r\nHost: t\r\n\r\n' +
      'POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 23\r\n\r\nGET /<x> HTTP/1.1\r\n\r\nxx' +
      'GET /<y> HTTP/1.1\r\nHost: t\r\n\r\n' +
      'GET /echo?v=<1> HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
      'GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
  ],
  [
    'after a body the next pipelined request is read as sent',
    'POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nGET /<x> \r\n' +
      'POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nGET /<\r\n0\r\n\r\n' +
      'GET /echo?x=<y> HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
  ],
]

describe('an HTTP/1.0 client', () => {
  const both = onBoth(build)
  for (const [title, request] of [
    ['gets HTTP/1.1 in the status line and Connection: close, as from Node', 'GET /echo HTTP/1.0\r\n\r\n'],
    ['asking to keep the connection, keeps it', 'GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'],
    ['gets a streamed body unframed, then the close', 'GET /chunks HTTP/1.0\r\n\r\n'],
  ] as const) {
    it(title, async () => {
      const until = (t: string) => /\r\n\r\n[\s\S]*\}$/.test(t)
      const [a, b] = [await raw(both.express.port, request, until), await raw(both.xypriss.port, request, until)]
      expect(a).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(maskDate(b)).toBe(maskDate(a))
    })
  }
})

describe('header names as the app wrote them', () => {
  const both = onBoth(build)
  for (const path of ['/spelled', '/spelled-raw']) {
    it(path, async () => {
      const request = `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`
      const [a, b] = [await raw(both.express.port, request), await raw(both.xypriss.port, request)]
      expect(a).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(a).toMatch(/xypriss-spellings/i)
      expect(maskDate(b)).toBe(maskDate(a))
    })
  }
})

describe('the request as sent', () => {
  const both = onBoth(build)
  for (const [title, payload] of cases) {
    it(title, async () => {
      const request = Buffer.from(payload, 'latin1')
      const [a, b] = [await raw(both.express.port, request), await raw(both.xypriss.port, request)]
      expect(a).toMatch(/^HTTP\/1\.1 /)
      expect(maskDate(b)).toBe(maskDate(a))
    })
  }
})
