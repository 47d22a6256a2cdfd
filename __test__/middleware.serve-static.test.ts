// serve-static on express@5 and on xypriss: a file from a temp dir, conditional GET (304) and Range (206).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const serveStatic = require('serve-static')

const content = 'hello static world\n'.repeat(50)

function build(framework: any, dir: string) {
  const app = framework()
  app.use('/static', serveStatic(dir, { maxAge: '1h' }))
  // at the root too: nothing else matches these paths, so the request must still reach it
  app.use(serveStatic(dir))
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`serve-static on ${name}`, () => {
    let server: Running
    let dir: string
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-static-'))
      fs.writeFileSync(path.join(dir, 'hello.txt'), content)
      fs.mkdirSync(path.join(dir, 'sub'))
      fs.writeFileSync(path.join(dir, 'sub', 'index.html'), '<h1>index</h1>')
      server = await listen(build(framework, dir))
    })
    afterAll(async () => {
      await server.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    it('serves the file with type, length, ETag, Last-Modified and Cache-Control', async () => {
      const r = await request(server.port, 'GET', '/static/hello.txt')
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe(content)
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(r.headers['content-length']).toBe(String(content.length))
      expect(r.headers['accept-ranges']).toBe('bytes')
      expect(r.headers['cache-control']).toBe('public, max-age=3600')
      expect(r.headers.etag).toMatch(/^W\/"/)
      expect(r.headers['last-modified']).toBe(fs.statSync(path.join(dir, 'hello.txt')).mtime.toUTCString())
    })

    it('304 for a matching If-None-Match', async () => {
      const first = await request(server.port, 'GET', '/static/hello.txt')
      const r = await request(server.port, 'GET', '/static/hello.txt', { headers: { 'if-none-match': String(first.headers.etag) } })
      expect(r.status).toBe(304)
      expect(r.body.length).toBe(0)
      expect(r.headers.etag).toBe(first.headers.etag)
    })

    it('206 for a Range, 416 for an unsatisfiable one', async () => {
      const r = await request(server.port, 'GET', '/static/hello.txt', { headers: { range: 'bytes=6-11' } })
      expect(r.status).toBe(206)
      expect(r.body.toString()).toBe('static')
      expect(r.headers['content-range']).toBe(`bytes 6-11/${content.length}`)
      expect(r.headers['content-length']).toBe('6')
      const bad = await request(server.port, 'GET', '/static/hello.txt', { headers: { range: 'bytes=99999-' } })
      expect(bad.status).toBe(416)
      expect(bad.headers['content-range']).toBe(`bytes */${content.length}`)
    })

    it('HEAD, directory redirect, index.html and fallthrough to 404', async () => {
      const head = await request(server.port, 'HEAD', '/static/hello.txt')
      expect(head.status).toBe(200)
      expect(head.headers['content-length']).toBe(String(content.length))
      expect(head.body.length).toBe(0)
      const redirect = await request(server.port, 'GET', '/static/sub')
      expect(redirect.status).toBe(301)
      expect(redirect.headers.location).toBe('/static/sub/')
      const index = await request(server.port, 'GET', '/static/sub/')
      expect(index.body.toString()).toBe('<h1>index</h1>')
      expect((await request(server.port, 'GET', '/static/nope.txt')).status).toBe(404)
    })

    it('serves from middleware mounted at the root', async () => {
      const r = await request(server.port, 'GET', '/hello.txt')
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe(content)
    })

    // xypriss wraps it (plain spellings only, see express.static.test.ts); the middleware keeps its name.
    it('the framework exports it as .static', () => {
      if (name === 'express') expect(framework.static).toBe(serveStatic)
      else expect([framework.static === serveStatic, framework.static(dir).name]).toEqual([false, 'serveStatic'])
    })
  })
}
