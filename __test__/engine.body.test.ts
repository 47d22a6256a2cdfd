import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, onBoth, raw, request, xypriss, type Running } from './helpers'

let running: Running
const big = randomBytes(5 * 1024 * 1024)
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  const app = xypriss()
  app.post('/upload', (req: any, res: any) => {
    const hash = createHash('sha256')
    let size = 0
    let chunks = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      chunks++
      hash.update(c)
    })
    req.on('end', () => res.json({ size, chunks, sha: hash.digest('hex'), complete: req.complete }))
  })
  app.post('/json', xypriss.json(), (req: any, res: any) => res.json(req.body))
  app.get('/download', (req: any, res: any) => {
    res.setHeader('Content-Type', 'application/octet-stream')
    let offset = 0
    let sawBackpressure = false
    const pump = () => {
      while (offset < big.length) {
        const chunk = big.subarray(offset, offset + 64 * 1024)
        offset += chunk.length
        if (!res.write(chunk)) {
          sawBackpressure = true
          res.once('drain', pump)
          return
        }
      }
      res.end()
      ;(app as any).lastBackpressure = sawBackpressure
    }
    pump()
  })
  running = await listen(app)
})
afterAll(() => running.close())

describe('request and response bodies', () => {
  it('streams a 1 MB upload to the handler in chunks', async () => {
    const body = randomBytes(1024 * 1024)
    const reply = await request(running.port, 'POST', '/upload', { body })
    const got = JSON.parse(reply.body.toString())
    expect(got.size).toBe(body.length)
    expect(got.sha).toBe(sha(body))
    expect(got.chunks).toBeGreaterThan(1)
    expect(got.complete).toBe(true)
  })

  it('streams a chunked upload of unknown length', async () => {
    const parts = [randomBytes(70_000), randomBytes(10), randomBytes(200_000)]
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: running.port, method: 'POST', path: '/upload' }, (res) => {
        const out: Buffer[] = []
        res.on('data', (c) => out.push(c))
        res.on('end', () => resolve(Buffer.concat(out)))
      })
      req.on('error', reject)
      for (const p of parts) req.write(p)
      req.end()
    })
    const got = JSON.parse(reply.toString())
    expect(got.size).toBe(270_010)
    expect(got.sha).toBe(sha(Buffer.concat(parts)))
  })

  it('parses a JSON body with express.json()', async () => {
    const reply = await request(running.port, 'POST', '/json', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: [1, 2, { b: 'ü' }] }),
    })
    expect(JSON.parse(reply.body.toString())).toEqual({ a: [1, 2, { b: 'ü' }] })
  })

  it('answers invalid JSON with 400 and keeps serving', async () => {
    const reply = await request(running.port, 'POST', '/json', { headers: { 'content-type': 'application/json' }, body: '{nope' })
    expect(reply.status).toBe(400)
    expect((await request(running.port, 'POST', '/json', { headers: { 'content-type': 'application/json' }, body: '[1]' })).status).toBe(200)
  })

  it('streams a 5 MB response with backpressure', async () => {
    const reply = await request(running.port, 'GET', '/download')
    expect(reply.status).toBe(200)
    expect(reply.headers['transfer-encoding']).toBe('chunked')
    expect(reply.body.length).toBe(big.length)
    expect(sha(reply.body)).toBe(sha(big))
  })
})

describe('a request body the app leaves unread', () => {
  const both = onBoth((framework: any) => {
    const app = framework()
    app.post('/', (req: any, res: any) => res.send('ignored body'))
    app.get('/', (req: any, res: any) => res.send('second'))
    return app
  })
  for (const [title, encode] of [
    ['with a Content-Length', (body: string) => `Content-Length: ${body.length}\r\n\r\n${body}`],
    ['chunked', (body: string) => `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`],
  ] as const) {
    it(`is read and dropped after the response, ${title}, and the connection serves the next request`, async () => {
      const payload = `POST / HTTP/1.1\r\nHost: t\r\n${encode('x'.repeat(200_000))}GET / HTTP/1.1\r\nHost: t\r\n\r\n`
      const until = (t: string) => t.endsWith('second')
      const mask = (t: string) => t.replace(/^Date: .*$/gm, 'Date: <date>')
      const a = mask(await raw(both.express.port, payload, until))
      const b = mask(await raw(both.xypriss.port, payload, until))
      expect(a).toMatch(/ignored bodyHTTP\/1\.1 200 OK[\s\S]*second$/)
      expect(b).toBe(a)
    })
  }
})
