// compression on express@5 and on xypriss: gzip and br chosen from Accept-Encoding, bodies decompress to the original.
import zlib from 'node:zlib'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const compression = require('compression')

const text = Array.from({ length: 400 }, (_, i) => `line ${i}: the quick brown fox ${i * 7}\n`).join('')

function build(framework: any) {
  const app = framework()
  app.use(compression())
  app.get('/text', (req: any, res: any) => res.type('text').send(text))
  app.get('/small', (req: any, res: any) => res.type('text').send('tiny'))
  app.get('/stream', (req: any, res: any) => {
    res.type('text')
    const half = text.length >> 1
    res.write(text.slice(0, half))
    setTimeout(() => res.end(text.slice(half)), 5)
  })
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`compression on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('gzip', async () => {
      const r = await request(server.port, 'GET', '/text', { headers: { 'accept-encoding': 'gzip' } })
      expect(r.status).toBe(200)
      expect(r.headers['content-encoding']).toBe('gzip')
      expect(r.headers.vary).toBe('Accept-Encoding')
      expect(r.headers['content-length']).toBeUndefined()
      expect(r.body.length).toBeLessThan(text.length / 2)
      expect(zlib.gunzipSync(r.body).toString()).toBe(text)
    })

    it('br is preferred when offered', async () => {
      const r = await request(server.port, 'GET', '/text', { headers: { 'accept-encoding': 'gzip, deflate, br' } })
      expect(r.headers['content-encoding']).toBe('br')
      expect(zlib.brotliDecompressSync(r.body).toString()).toBe(text)
    })

    it('a streamed response (write + end) is compressed too', async () => {
      const r = await request(server.port, 'GET', '/stream', { headers: { 'accept-encoding': 'gzip' } })
      expect(r.headers['content-encoding']).toBe('gzip')
      expect(zlib.gunzipSync(r.body).toString()).toBe(text)
    })

    it('identity without Accept-Encoding, and below the threshold', async () => {
      const plain = await request(server.port, 'GET', '/text', { headers: { 'accept-encoding': 'identity' } })
      expect(plain.headers['content-encoding']).toBeUndefined()
      expect(plain.body.toString()).toBe(text)
      const small = await request(server.port, 'GET', '/small', { headers: { 'accept-encoding': 'gzip' } })
      expect(small.headers['content-encoding']).toBeUndefined()
      expect(small.headers['content-length']).toBe('4')
      expect(small.body.toString()).toBe('tiny')
    })
  })
}
