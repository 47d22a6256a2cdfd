// res.writeHead: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

// Node's ServerResponse surface that middleware reaches for, compared with express@5 on node:http.
// After an explicit writeHead() without Content-Length the body goes out chunked, on both.
function build(framework: any) {
  const app = framework()
  app.get('/object', (req: any, res: any) => {
    res.setHeader('X-A', 'old')
    res.writeHead(201, { 'X-A': 'new', 'X-B': ['1', '2'] })
    res.end('object')
  })
  app.get('/flat', (req: any, res: any) => {
    res.setHeader('X-A', 'old')
    res.setHeader('X-C', 'kept')
    res.writeHead(202, ['X-A', '1', 'X-A', '2', 'X-B', '3'])
    res.end('flat')
  })
  app.get('/message', (req: any, res: any) => {
    res.writeHead(200, 'Custom Reason', { 'X-M': 'yes' })
    res.end(String(res.statusMessage))
  })
  app.get('/default-message', (req: any, res: any) => {
    res.writeHead(404)
    res.end(String(res.statusMessage))
  })
  app.get('/errors', (req: any, res: any) => {
    const out: string[] = []
    const attempt = (f: () => void) => {
      try {
        f()
        out.push('ok')
      } catch (e: any) {
        out.push(e.code)
      }
    }
    attempt(() => res.writeHead(99))
    attempt(() => res.writeHead(1000))
    attempt(() => res.writeHead(200, ['X-Odd']))
    attempt(() => res.writeHead(200, { 'X-U': undefined }))
    attempt(() => res.writeHead(200, 'bad\nreason'))
    res.statusMessage = undefined
    attempt(() => res.writeHead(200, { 'X-Last': 'yes' }))
    attempt(() => res.writeHead(200))
    attempt(() => res.setHeader('X-Late', '1'))
    attempt(() => res.removeHeader('X-Last'))
    attempt(() => res.appendHeader('X-Late', '1'))
    res.end(out.join(','))
  })
  app.get('/headers', (req: any, res: any) => {
    res.setHeader('X-One', '1')
    res.setHeader('x-Many', ['a', 'b'])
    res.appendHeader('X-One', '2')
    res.appendHeader('X-New', '3')
    res.setHeader('X-Gone', 'soon')
    res.removeHeader('x-gone')
    res.json({
      headers: res.getHeaders(),
      proto: Object.getPrototypeOf(res.getHeaders()),
      names: res.getHeaderNames(),
      raw: res.getRawHeaderNames(),
      has: [res.hasHeader('x-one'), res.hasHeader('X-ONE'), res.hasHeader('x-gone')],
      get: [res.getHeader('x-many'), res.getHeader('nope') ?? null],
    })
  })
  app.get('/flush', async (req: any, res: any) => {
    res.setHeader('Content-Type', 'text/plain')
    res.flushHeaders()
    const sent = res.headersSent
    await new Promise((r) => setTimeout(r, 20))
    res.end('after flush ' + sent)
  })
  app.get('/sent-state', (req: any, res: any) => {
    const before = res.headersSent
    res.write('a')
    const afterWrite = res.headersSent
    res.end(' ' + before + ' ' + afterWrite + ' ' + res.writableEnded)
  })
  app.get('/invalid', (req: any, res: any) => {
    const out: string[] = []
    for (const [n, v] of [['bad name', 'v'], ['X-V', 'a\nb'], ['X-U', undefined]] as const) {
      try {
        res.setHeader(n, v)
        out.push('ok')
      } catch (e: any) {
        out.push(e.code)
      }
    }
    res.end(out.join(','))
  })
  return app
}

describe('Node ServerResponse surface: writeHead and headers', () => {
  differential(build, [
    ['writeHead(status, object) overrides setHeader', 'GET', '/object', undefined, (r) => {
      expect(r.status).toBe(201)
      expect(r.headers['x-a']).toBe('new')
      expect(r.headers['x-b']).toBe('1, 2')
    }],
    // Node 20 keeps the last of repeated names in a flat array; Node 22 on keeps them all
    ['writeHead(status, flat array) replaces', 'GET', '/flat', undefined, (r) => {
      expect(r.headers['x-a']).toBe(Number(process.versions.node.split('.')[0]) >= 22 ? '1, 2' : '2')
      expect(r.headers['x-c']).toBe('kept')
    }],
    // The engine writes the canonical reason phrase: statusMessage is kept on res, not sent.
    ['writeHead(status, message, headers) keeps statusMessage', 'GET', '/message', undefined, (r) => expect(r.body.toString()).toBe('Custom Reason')],
    ['writeHead fills statusMessage', 'GET', '/default-message', undefined, (r) => expect(r.body.toString()).toBe('Not Found')],
    ['writeHead errors and headers after it', 'GET', '/errors', undefined, (r) =>
      expect(r.body.toString()).toBe(
        'ERR_HTTP_INVALID_STATUS_CODE,ERR_HTTP_INVALID_STATUS_CODE,ERR_INVALID_ARG_VALUE,ERR_HTTP_INVALID_HEADER_VALUE,ERR_INVALID_CHAR,ok,ERR_HTTP_HEADERS_SENT,ERR_HTTP_HEADERS_SENT,ERR_HTTP_HEADERS_SENT,ERR_HTTP_HEADERS_SENT',
      )],
    ['getHeaders, getHeaderNames, hasHeader, appendHeader, removeHeader', 'GET', '/headers'],
    ['flushHeaders', 'GET', '/flush', {}, (r) => expect(r.body.toString()).toBe('after flush true')],
    ['headersSent after write', 'GET', '/sent-state', {}, (r) => expect(r.body.toString()).toBe('a false true false')],
    ['setHeader validation', 'GET', '/invalid', {}, (r) => expect(r.body.toString()).toBe('ERR_INVALID_HTTP_TOKEN,ERR_INVALID_CHAR,ERR_HTTP_INVALID_HEADER_VALUE')],
  ])
})
