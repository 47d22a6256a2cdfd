// res.sendFile: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import http from 'node:http'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { differentialReplies as differential, express, listen, xypriss } from './helpers'


const root = mkdtempSync(join(tmpdir(), 'xyp-sendfile-'))
const big = Buffer.alloc(300_000)
for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
writeFileSync(join(root, 'hello.txt'), 'hello world\n')
writeFileSync(join(root, 'page.html'), '<p>page</p>')
writeFileSync(join(root, '.secret'), 'dotfile')
writeFileSync(join(root, 'name with space.txt'), 'spaced')
writeFileSync(join(root, 'big.bin'), big)
mkdirSync(join(root, 'dir'))
mkdirSync(join(root, '.hidden'))
writeFileSync(join(root, '.hidden', 'in.txt'), 'in hidden dir')
// fixed mtimes: Last-Modified and the ETag derive from them
for (const f of ['hello.txt', 'page.html', '.secret', 'name with space.txt', 'big.bin']) utimesSync(join(root, f), 1_700_000_000, 1_700_000_000)
afterAll(() => rmSync(root, { recursive: true, force: true }))

function build(framework: any) {
  const app = framework()
  const log: string[] = []
  app.get('/abs/*file', (req: any, res: any) => res.sendFile(join(root, req.params.file.join('/'))))
  app.get('/root/*file', (req: any, res: any) => res.sendFile(req.params.file.join('/'), { root }))
  app.get('/opts/:name', (req: any, res: any) => {
    const q = req.query
    const options: any = { root }
    if (q.maxAge !== undefined) options.maxAge = /^\d+$/.test(q.maxAge) ? Number(q.maxAge) : q.maxAge
    for (const key of ['lastModified', 'cacheControl', 'immutable', 'acceptRanges']) if (q[key] !== undefined) options[key] = q[key] === 'true'
    if (q.dotfiles) options.dotfiles = q.dotfiles
    if (q.headers) options.headers = { 'X-Custom': 'yes', 'Cache-Control': 'private' }
    res.sendFile(req.params.name, options)
  })
  app.get('/callback/:name', (req: any, res: any) =>
    res.sendFile(req.params.name, { root }, (err: any) => {
      log.push(err ? `${err.code}:${err.status}` : 'ok')
      if (err && !res.headersSent) res.status(err.status || 500).send('handled ' + err.code)
    }),
  )
  app.get('/fn-second', (req: any, res: any) => {
    res.sendFile(join(root, 'hello.txt'), (err: any) => log.push(err ? 'err' : 'fn ok'))
  })
  app.get('/log', (req: any, res: any) => res.json(log.splice(0)))
  app.get('/throws', (req: any, res: any) => {
    const out: string[] = []
    for (const args of [[], [42], ['relative.txt']]) {
      try {
        res.sendFile(...args)
      } catch (e: any) {
        out.push(e.constructor.name + ': ' + e.message)
      }
    }
    res.send(out.join('\n'))
  })
  app.get('/etag-off', (req: any, res: any) => {
    req.app.set('etag', false)
    res.sendFile('hello.txt', { root }, () => req.app.set('etag', 'weak'))
  })
  app.get('/headers-set', (req: any, res: any) => res.set('Content-Type', 'text/x-mine').set('ETag', '"mine"').sendFile('hello.txt', { root }))
  app.use((err: any, req: any, res: any, next: any) => res.status(err.status || 500).send('error ' + err.status + ' ' + err.code))
  return app
}

const lm = new Date(1_700_000_000_000).toUTCString()

describe('res.sendFile', () => {
  differential(build, [
    ['absolute path', 'GET', '/abs/hello.txt', {}, (r) => {
      expect(r.body.toString()).toBe('hello world\n')
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(r.headers['last-modified']).toBe(lm)
      expect(r.headers['accept-ranges']).toBe('bytes')
      expect(r.headers['cache-control']).toBe('public, max-age=0')
      expect(r.headers.etag).toMatch(/^W\//)
    }],
    ['root option', 'GET', '/root/page.html'],
    ['encoded name', 'GET', '/root/name%20with%20space.txt'],
    ['large file streams whole', 'GET', '/root/big.bin', {}, (r) => expect(r.body.equals(big)).toBe(true)],
    ['HEAD', 'HEAD', '/root/big.bin', {}, (r) => expect(r.body.length).toBe(0)],
    ['missing file: 404 to next', 'GET', '/root/nope.txt', {}, (r) => expect(r.body.toString()).toBe('error 404 ENOENT')],
    ['directory: next()', 'GET', '/root/dir'],
    ['traversal above root: 403', 'GET', '/root/..%2F..%2Fetc%2Fpasswd'],
    ['dotfile ignored by default', 'GET', '/opts/.secret'],
    ['dotfiles allow', 'GET', '/opts/.secret?dotfiles=allow', {}, (r) => expect(r.body.toString()).toBe('dotfile')],
    ['dotfiles deny', 'GET', '/opts/.secret?dotfiles=deny', {}, (r) => expect(r.status).toBe(403)],
    ['maxAge number', 'GET', '/opts/hello.txt?maxAge=60000', {}, (r) => expect(r.headers['cache-control']).toBe('public, max-age=60')],
    ['maxAge string', 'GET', '/opts/hello.txt?maxAge=1d'],
    ['immutable', 'GET', '/opts/hello.txt?maxAge=1d&immutable=true', {}, (r) => expect(r.headers['cache-control']).toContain('immutable')],
    ['cacheControl false', 'GET', '/opts/hello.txt?cacheControl=false', {}, (r) => expect(r.headers['cache-control']).toBeUndefined()],
    ['lastModified false', 'GET', '/opts/hello.txt?lastModified=false', {}, (r) => expect(r.headers['last-modified']).toBeUndefined()],
    ['acceptRanges false', 'GET', '/opts/hello.txt?acceptRanges=false', { headers: { range: 'bytes=0-1' } }, (r) => expect(r.status).toBe(200)],
    ['headers option', 'GET', '/opts/hello.txt?headers=1', {}, (r) => expect(r.headers['x-custom']).toBe('yes')],
    ['headers option not on errors', 'GET', '/opts/missing.txt?headers=1', {}, (r) => expect(r.headers['x-custom']).toBeUndefined()],
    ['app etag disabled', 'GET', '/etag-off', {}, (r) => expect(r.headers.etag).toBeUndefined()],
    ['headers set before are kept', 'GET', '/headers-set'],
    ['range', 'GET', '/root/big.bin', { headers: { range: 'bytes=100-199' } }, (r) => {
      expect(r.status).toBe(206)
      expect(r.headers['content-range']).toBe(`bytes 100-199/${big.length}`)
      expect(r.body.equals(big.subarray(100, 200))).toBe(true)
    }],
    ['suffix range', 'GET', '/root/big.bin', { headers: { range: 'bytes=-10' } }],
    ['open range', 'GET', '/root/big.bin', { headers: { range: 'bytes=299990-' } }],
    ['multiple ranges: whole file', 'GET', '/root/hello.txt', { headers: { range: 'bytes=0-1,3-4' } }],
    ['unsatisfiable range: 416', 'GET', '/root/hello.txt', { headers: { range: 'bytes=500-600' } }, (r) => expect(r.status).toBe(416)],
    ['malformed range ignored', 'GET', '/root/hello.txt', { headers: { range: 'pages=1-2' } }],
    ['If-Range with a matching date', 'GET', '/root/hello.txt', { headers: { range: 'bytes=0-4', 'if-range': lm } }, (r) => expect(r.status).toBe(206)],
    ['If-Range with a stale etag', 'GET', '/root/hello.txt', { headers: { range: 'bytes=0-4', 'if-range': '"other"' } }, (r) => expect(r.status).toBe(200)],
    ['If-Modified-Since: 304', 'GET', '/root/hello.txt', { headers: { 'if-modified-since': lm } }, (r) => expect(r.status).toBe(304)],
    ['If-None-Match *: 304', 'GET', '/root/hello.txt', { headers: { 'if-none-match': '*' } }],
    ['If-Match mismatch: 412', 'GET', '/root/hello.txt', { headers: { 'if-match': '"nope"' } }, (r) => expect(r.status).toBe(412)],
    ['If-Unmodified-Since in the past: 412', 'GET', '/root/hello.txt', { headers: { 'if-unmodified-since': new Date(0).toUTCString() } }],
    ['argument errors', 'GET', '/throws', {}, (r) => expect(r.body.toString().split('\n')).toHaveLength(3)],
    ['callback: success', 'GET', '/callback/hello.txt'],
    ['callback: error handled by the caller', 'GET', '/callback/nope.txt', {}, (r) => expect(r.body.toString()).toBe('handled ENOENT')],
    ['callback: directory', 'GET', '/callback/dir'],
    ['callback as second argument', 'GET', '/fn-second'],
    ['callbacks saw the same outcomes', 'GET', '/log', {}, (r) => expect(JSON.parse(r.body.toString())).toEqual(['ok', 'ENOENT:404', 'EISDIR:undefined', 'fn ok'])],
  ])
})

describe('res.sendFile when the client goes away', () => {
  it('calls back with ECONNABORTED and stops reading, on both', async () => {
    const huge = join(root, 'huge.bin')
    writeFileSync(huge, Buffer.alloc(64 * 1024 * 1024))
    for (const framework of [express, xypriss]) {
      let outcome: any = 'pending'
      const app = framework()
      app.get('/', (req: any, res: any) => res.sendFile(huge, (err: any) => (outcome = err ? err.code : 'ok')))
      const running = await listen(app)
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: running.port, path: '/' }, (res) => {
          res.once('data', () => {
            req.destroy()
            resolve()
          })
        })
        req.on('error', () => {})
      })
      const start = Date.now()
      while (outcome === 'pending' && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20))
      expect([framework === express ? 'express' : 'xypriss', outcome]).toEqual([framework === express ? 'express' : 'xypriss', 'ECONNABORTED'])
      await running.close()
    }
  })
})
