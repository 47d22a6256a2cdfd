// res.onHeaders: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { createRequire } from 'node:module'
import { gunzipSync } from 'node:zlib'
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

// Middleware that wraps writeHead/write/end (on-headers, compression, express-session) must see
// the calls Node makes: end() and write() fix the head through this.writeHead().
const require = createRequire(import.meta.url)
const onHeaders = require('on-headers')
const compression = require('compression')

function build(framework: any) {
  const app = framework()
  app.use('/hooked', (req: any, res: any, next: any) => {
    const calls: string[] = []
    onHeaders(res, function (this: any) {
      calls.push('headers')
      // what is set here still reaches the wire, as on Node
      this.setHeader('X-Calls', calls.join(' '))
      this.setHeader('X-Seen-ETag', String(this.getHeader('ETag')))
      this.setHeader('X-Seen-Length', String(this.getHeader('Content-Length')))
      if (req.query.status) this.statusCode = Number(req.query.status)
    })
    next()
  })
  app.get('/hooked/send', (req: any, res: any) => res.send('hello'))
  app.get('/hooked/json', (req: any, res: any) => res.json({ a: 1 }))
  app.get('/hooked/end', (req: any, res: any) => res.end('raw'))
  app.get('/hooked/empty', (req: any, res: any) => res.end())
  app.get('/hooked/write', (req: any, res: any) => {
    res.write('a')
    res.end('b')
  })
  app.get('/hooked/writehead', (req: any, res: any) => {
    res.writeHead(202, { 'X-Explicit': '1' })
    res.end('explicit')
  })
  app.get('/hooked/flush', (req: any, res: any) => {
    res.flushHeaders()
    res.end('flushed')
  })
  app.get('/hooked/twice', (req: any, res: any) => {
    onHeaders(res, function (this: any) {
      this.setHeader('X-Second', 'yes')
    })
    res.send('two listeners')
  })
  app.use('/gzip', compression({ threshold: 0 }))
  app.get('/gzip/json', (req: any, res: any) => res.json({ big: 'x'.repeat(2000) }))
  app.get('/gzip/send', (req: any, res: any) => res.send('y'.repeat(5000)))
  app.get('/gzip/stream', (req: any, res: any) => {
    res.type('txt')
    for (let i = 0; i < 50; i++) res.write('line ' + i + '\n')
    res.end()
  })
  return app
}

const gzip = { headers: { 'accept-encoding': 'gzip' } }

describe('wrapped writeHead / write / end', () => {
  differential(build, [
    ['on-headers runs before res.send goes out, sees ETag and Content-Length', 'GET', '/hooked/send', {}, (r) => {
      expect(r.headers['x-calls']).toBe('headers')
      expect(r.headers['x-seen-etag']).toBe('W/"5-qvTGHdzF6KLavt4PO0gs2a6pQ00"')
      expect(r.headers['x-seen-length']).toBe('5')
      expect(r.headers.etag).toBe('W/"5-qvTGHdzF6KLavt4PO0gs2a6pQ00"')
    }],
    ['res.json', 'GET', '/hooked/json'],
    ['listener changes the status', 'GET', '/hooked/send?status=201', {}, (r) => expect(r.status).toBe(201)],
    ['res.end(body)', 'GET', '/hooked/end'],
    ['res.end()', 'GET', '/hooked/empty'],
    ['res.write()', 'GET', '/hooked/write', {}, (r) => expect(r.body.toString()).toBe('ab')],
    ['explicit writeHead', 'GET', '/hooked/writehead', undefined, (r) => expect(r.status).toBe(202)],
    ['flushHeaders', 'GET', '/hooked/flush', {}, (r) => expect(r.headers['x-calls']).toBe('headers')],
    ['two listeners', 'GET', '/hooked/twice', {}, (r) => expect(r.headers['x-second']).toBe('yes')],
    ['HEAD', 'HEAD', '/hooked/send'],
    ['If-None-Match still 304s', 'GET', '/hooked/send', { headers: { 'if-none-match': 'W/"5-qvTGHdzF6KLavt4PO0gs2a6pQ00"' } }, (r) => expect(r.status).toBe(304)],
    ['compression: res.json gzipped', 'GET', '/gzip/json', gzip, (r) => {
      expect(r.headers['content-encoding']).toBe('gzip')
      expect(JSON.parse(gunzipSync(r.body).toString()).big).toHaveLength(2000)
    }],
    ['compression: res.send gzipped', 'GET', '/gzip/send', gzip],
    ['compression: streamed writes', 'GET', '/gzip/stream', gzip, (r) => expect(gunzipSync(r.body).toString()).toContain('line 49\n')],
    ['compression: identity when not accepted', 'GET', '/gzip/send'],
  ])
})
