// morgan on express@5 and on xypriss: one log line per request, written to a stream.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, waitFor, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const morgan = require('morgan')

function build(framework: any, lines: string[]) {
  const app = framework()
  const stream = { write: (line: string) => lines.push(line) }
  app.use(morgan(':remote-addr :method :url HTTP/:http-version :status :res[content-length] :response-time ms ":user-agent"', { stream }))
  app.get('/hello', (req: any, res: any) => res.send('hello'))
  app.post('/stream', (req: any, res: any) => {
    res.status(201)
    res.write('ab')
    res.end('cd')
  })
  return app
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`morgan on ${name}`, () => {
    let server: Running
    const lines: string[] = []
    beforeAll(async () => {
      server = await listen(build(framework, lines))
    })
    afterAll(() => server.close())

    async function next(): Promise<string> {
      await waitFor(() => lines.length > 0, 2000)
      return lines.shift()!
    }

    it('logs method, url, status and content-length', async () => {
      const r = await request(server.port, 'GET', '/hello?x=1', { headers: { 'user-agent': 'probe/1.0' } })
      expect(r.status).toBe(200)
      const line = await next()
      expect(line).toMatch(/^127\.0\.0\.1 GET \/hello\?x=1 HTTP\/1\.1 200 5 [\d.]+ ms "probe\/1\.0"\n$/)
    })

    it('logs the 404 of an unmatched path', async () => {
      await request(server.port, 'GET', '/nowhere', { headers: { 'user-agent': 'probe/1.0' } })
      expect(await next()).toMatch(/^127\.0\.0\.1 GET \/nowhere HTTP\/1\.1 404 \d+ [\d.]+ ms "probe\/1\.0"\n$/)
    })

    it('logs a streamed response (no content-length)', async () => {
      const r = await request(server.port, 'POST', '/stream', { headers: { 'user-agent': 'probe/1.0' } })
      expect(r.body.toString()).toBe('abcd')
      expect(await next()).toMatch(/^127\.0\.0\.1 POST \/stream HTTP\/1\.1 201 - [\d.]+ ms "probe\/1\.0"\n$/)
    })
  })
}
