import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { onBoth } from './helpers'

// Hostile request streams, sent byte for byte to the same app on express@5 (Node's llhttp) and on
// xypriss. The engine refuses at least whatever Node refuses; where RFC 9112 says to refuse and
// Node does not, the engine refuses too. Every case ends with a pipelined request that closes the
// connection, so a server that frames a body differently answers it differently.

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'
const NOT_IMPLEMENTED = 'HTTP/1.1 501 Not Implemented\r\nConnection: close\r\n\r\n'
const END = 'GET /end HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
const H = 'Host: t\r\n'

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')

/** Sends the bytes, returns everything the server wrote until it closed (or `capMs` passed). */
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
  app.use((req: any, res: any) => {
    let body = ''
    req.setEncoding('latin1')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => res.json({ m: req.method, u: req.url, v: req.httpVersion, h: req.rawHeaders, b: body }))
  })
  return app
}

/** What the engine must answer. `same`: byte for byte what Node answers. `next400`: the first
 * request answered, the next one refused with 400 (Node refuses the pipeline as a whole: its parser
 * reads ahead and answers 400 before the first response). The others are refusals Node does not
 * make: RFC 9112 asks for them (`rfc`), or hyper's parser is stricter (`parser`). */
type Expect = 'same' | 'rfc400' | 'rfc501' | 'parser400' | 'next400'

const post = (headers: string, body: string) => `POST /p HTTP/1.1\r\n${H}${headers}\r\n${body}`
const chunked = (body: string) => post('Transfer-Encoding: chunked\r\n', body)
const get = (headers: string) => `GET /g HTTP/1.1\r\n${H}${headers}\r\n`

const cases: [title: string, payload: string, expect: Expect][] = [
  // Transfer-Encoding (RFC 9112 §6.1): chunked exactly once and last; a coding not implemented is a 501.
  ['Transfer-Encoding: chunked, chunked', post('Transfer-Encoding: chunked, chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: chunked on two lines', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: gzip, chunked', post('Transfer-Encoding: gzip, chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'rfc501'],
  ['Transfer-Encoding: identity, chunked', post('Transfer-Encoding: identity, chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'rfc501'],
  ['Transfer-Encoding: gzip then chunked on two lines', post('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'rfc501'],
  ['Transfer-Encoding: chunked, gzip (chunked not last)', post('Transfer-Encoding: chunked, gzip\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: chunked then gzip on two lines', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: gzip alone', post('Transfer-Encoding: gzip\r\n', 'abc'), 'same'],
  ['Transfer-Encoding: identity alone', post('Transfer-Encoding: identity\r\n', 'abc'), 'same'],
  ['Transfer-Encoding: xchunked', post('Transfer-Encoding: xchunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: chunked;q=1 (a parameter)', post('Transfer-Encoding: chunked;q=1\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding empty', post('Transfer-Encoding: \r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: chunked, (an empty element)', post('Transfer-Encoding: chunked, \r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: ,chunked (an empty element first)', post('Transfer-Encoding: ,chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'rfc400'],
  ['Transfer-Encoding with a vertical tab', post('Transfer-Encoding:\x0bchunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding: Chunked (case)', post('Transfer-Encoding: Chunked\r\n', '3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['Transfer-Encoding on HTTP/1.0', 'POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'same'],
  ['Content-Length then Transfer-Encoding', post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 'same'],
  ['Transfer-Encoding then Content-Length', post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', '0\r\n\r\n'), 'same'],
  // Content-Length: digits only, once.
  ['Content-Length: +3', post('Content-Length: +3\r\n', 'abc'), 'same'],
  ['Content-Length: -1', post('Content-Length: -1\r\n', 'abc'), 'same'],
  ['Content-Length: 3, 3', post('Content-Length: 3, 3\r\n', 'abc'), 'same'],
  ['Content-Length twice, same value', post('Content-Length: 3\r\nContent-Length: 3\r\n', 'abc'), 'same'],
  ['Content-Length twice, different values', post('Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'), 'same'],
  ['Content-Length: 0x3', post('Content-Length: 0x3\r\n', 'abc'), 'same'],
  ['Content-Length: 3 3', post('Content-Length: 3 3\r\n', 'abc'), 'same'],
  ['Content-Length: 3a', post('Content-Length: 3a\r\n', 'abc'), 'same'],
  ['Content-Length empty', post('Content-Length: \r\n', 'abc'), 'same'],
  ['Content-Length overflowing 64 bits', post('Content-Length: 99999999999999999999999\r\n', 'abc'), 'same'],
  ['Content-Length with spaces around', post('Content-Length:  3  \r\n', 'abc'), 'same'],
  ['Content-Length: 003', post('Content-Length: 003\r\n', 'abc'), 'same'],
  // Chunked framing.
  ['chunk size not hex', chunked('zz\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size with a space after', chunked('3 \r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size with a space before', chunked(' 3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size, a tab, an extension', chunked('3\t;a=b\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size overflowing 64 bits', chunked('FFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size with leading zeros', chunked('00000000000000000003\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size -3', chunked('-3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size 0x3', chunked('0x3\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size missing', chunked('\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size line ending in a bare LF', chunked('3\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk size line with a lone CR', chunked('3\rabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension name=value', chunked('3;a=b\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension name only', chunked('3;a\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension quoted value', chunked('3;a="b c"\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension with a space before the name', chunked('3; a=b\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension with spaces around =', chunked('3;a = b\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension value with <', chunked('3;a=b<c\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension empty', chunked('3;\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension with NUL', chunked('3;a\x00\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension ending in a bare LF', chunked('3;a\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extension with a lone CR', chunked('3;a\rb\r\nabc\r\n0\r\n\r\n'), 'same'],
  ['chunk extensions over 16 KiB', chunked(`3;${'a'.repeat(20_000)}\r\nabc\r\n0\r\n\r\n`), 'same'],
  ['chunk data not followed by CRLF', chunked('3\r\nabcXX0\r\n\r\n'), 'same'],
  ['chunk data followed by a bare LF', chunked('3\r\nabc\n0\r\n\r\n'), 'same'],
  ['trailers', chunked('3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n'), 'same'],
  ['trailer with a space before the colon', chunked('3\r\nabc\r\n0\r\nX-T : 1\r\n\r\n'), 'same'],
  ['trailer without a colon', chunked('3\r\nabc\r\n0\r\nXT\r\n\r\n'), 'same'],
  ['trailer ending in a bare LF', chunked('3\r\nabc\r\n0\r\nX: 1\n\r\n'), 'same'],
  ['last chunk ending in a bare LF', chunked('3\r\nabc\r\n0\r\n\n'), 'same'],
  ['an empty chunked body, then a pipelined request', chunked('0\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n'), 'same'],
  // Header lines.
  ['obs-fold (a line starting with a space)', get('X: a\r\n b\r\n'), 'same'],
  ['obs-fold with a tab', get('X: a\r\n\tb\r\n'), 'same'],
  ['the first header line folded', `GET /g HTTP/1.1\r\n X: a\r\n${H}\r\n`, 'same'],
  ['a space before the colon', get('X : a\r\n'), 'same'],
  ['a tab before the colon', get('X\t: a\r\n'), 'same'],
  ['a space inside the name', get('X Y: a\r\n'), 'same'],
  ['a ( in the name', get('X(y): a\r\n'), 'same'],
  ['an empty name', get(': a\r\n'), 'same'],
  ['a line without a colon', get('Foo\r\n'), 'same'],
  ['a CR inside a value', get('X: a\rb\r\n'), 'same'],
  ['a NUL inside a value', get('X: a\x00b\r\n'), 'same'],
  ['a NUL inside a name', get('X\x00: a\r\n'), 'same'],
  ['DEL inside a value', get('X: a\x7fb\r\n'), 'same'],
  ['\\x01 inside a value', get('X: a\x01b\r\n'), 'same'],
  ['\\x1f inside a value', get('X: a\x1fb\r\n'), 'same'],
  ['a tab inside a value', get('X: a\tb\r\n'), 'same'],
  ['a tab before a value', get('X:\ta\r\n'), 'same'],
  ['latin1 bytes inside a value', get('X: caf\xe9\xff\r\n'), 'same'],
  ['a header line ending in a lone CR', get('X: a\rY: b\r\n'), 'same'],
  ['a header line ending in a bare LF', get('X: a\n'), 'same'],
  // Host (RFC 9112 §3.2): exactly one, and a valid authority.
  ['two Host lines', 'GET /g HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'rfc400'],
  ['two Host lines on HTTP/1.0', 'GET /g HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n', 'same'],
  ['a Host with a space', 'GET /g HTTP/1.1\r\nHost: a b\r\n\r\n', 'rfc400'],
  ['a Host with a tab inside', 'GET /g HTTP/1.1\r\nHost: a\tb\r\n\r\n', 'rfc400'],
  ['a Host with userinfo', 'GET /g HTTP/1.1\r\nHost: u@a\r\n\r\n', 'rfc400'],
  ['a Host with a path', 'GET /g HTTP/1.1\r\nHost: a/b\r\n\r\n', 'rfc400'],
  ['a Host with a port that is not a number', 'GET /g HTTP/1.1\r\nHost: a:8x\r\n\r\n', 'rfc400'],
  ['an empty Host', 'GET /g HTTP/1.1\r\nHost: \r\n\r\n', 'same'],
  ['a Host with a port', 'GET /g HTTP/1.1\r\nHost: a.b:8080\r\n\r\n', 'same'],
  ['an IPv6 Host', 'GET /g HTTP/1.1\r\nHost: [::1]:80\r\n\r\n', 'same'],
  ['a Host with an underscore', 'GET /g HTTP/1.1\r\nHost: my_host\r\n\r\n', 'same'],
  // Request line.
  ['a lower-case method', `get /g HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['an unknown method', `FOO /g HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['a tab as separator', `GET\t/g HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['two spaces after the method', `GET  /g HTTP/1.1\r\n${H}\r\n`, 'parser400'],
  ['HTTP/1.2', `GET /g HTTP/1.2\r\n${H}\r\n`, 'same'],
  ['HTTP/2.0 on an HTTP/1 connection', `GET /g HTTP/2.0\r\n${H}\r\n`, 'same'],
  ['an HTTP/0.9 request line', 'GET /g\r\n\r\n', 'same'],
  ['no version', `GET /g \r\n${H}\r\n`, 'same'],
  ['a lower-case version', `GET /g http/1.1\r\n${H}\r\n`, 'same'],
  ['NUL in the target', `GET /a\x00b HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['DEL in the target', `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['\\x01 in the target', `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['a request line ending in a lone CR', `GET /g HTTP/1.1\r${H}\r\n`, 'same'],
  ['a request line ending in a bare LF', `GET /g HTTP/1.1\n${H}\r\n`, 'same'],
  ['an empty line before the request', `\r\nGET /g HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['a bare LF before the request', `\nGET /g HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['an absolute-form target', `GET http://t/x?y HTTP/1.1\r\n${H}\r\n`, 'same'],
  ['OPTIONS *', `OPTIONS * HTTP/1.1\r\n${H}\r\n`, 'same'],
  // Later requests on a connection are read as strictly as the first.
  ['after a request with an Upgrade header, a bare-LF head', `GET /g HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\nGET /2 HTTP/1.1\nHost: t\n\n`, 'next400'],
  [
    'after a request with an Upgrade header, Content-Length with Transfer-Encoding',
    `GET /g HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\n` + post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    'next400',
  ],
  ['after a request with an Upgrade header, two Host lines', `GET /g HTTP/1.1\r\n${H}Upgrade: h2c\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, 'rfc400'],
  ['after a chunked body with extensions, a bare-LF head', chunked('3;a=b\r\nabc\r\n0\r\n\r\n') + 'GET /2 HTTP/1.1\nHost: t\n\n', 'next400'],
  ['after a body shaped like requests, a bare-LF head', post('Content-Length: 42\r\n', 'GET /x HTTP/1.1\nHost: t\n\nGET /y HTTP/1.1\r\n') + 'GET /2 HTTP/1.1\nHost: t\n\n', 'next400'],
]

describe('hostile request streams', () => {
  const both = onBoth(build)
  for (const [title, payload, expected] of cases) {
    it(`${title}: ${expected === 'same' ? "as Node's" : expected}`, async () => {
      const bytes = payload + END
      const [node, engine] = await Promise.all([transcript(both.express.port, bytes), transcript(both.xypriss.port, bytes)])
      // Whatever Node refuses, the engine refuses too: it answers no more requests than Node.
      const answered = (text: string) => (text.match(/HTTP\/1\.1 [12]\d\d /g) ?? []).length
      if (expected !== 'next400') expect(answered(engine)).toBeLessThanOrEqual(answered(node))
      switch (expected) {
        case 'same':
          expect(engine).toBe(node)
          break
        case 'rfc400':
        case 'parser400':
          expect(node, 'Node accepts it').toMatch(/^HTTP\/1\.1 200 /)
          expect(engine).toMatch(new RegExp(`^(HTTP/1\\.1 200 [\\s\\S]*?\\r\\n\\r\\n\\{[^}]*\\})?${regexEscape(BAD_REQUEST)} <closed>$`))
          break
        case 'next400':
          expect(node).toBe(`${BAD_REQUEST} <closed>`)
          expect(engine).toMatch(new RegExp(`^HTTP/1\\.1 200 [\\s\\S]*?\\r\\n\\r\\n\\{[\\s\\S]*?\\}${regexEscape(BAD_REQUEST)} <closed>$`))
          break
        case 'rfc501':
          expect(node, 'Node accepts it').toMatch(/^HTTP\/1\.1 200 /)
          expect(engine).toBe(`${NOT_IMPLEMENTED} <closed>`)
          break
      }
    })
  }
})

function regexEscape(text: string) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\r/g, '\\r').replace(/\n/g, '\\n')
}
