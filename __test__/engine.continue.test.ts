import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { onBoth } from './helpers'

// Expect: 100-continue, the same app on express@5 and xypriss: 100 Continue goes out when the
// body is wanted, a 'checkContinue' listener may refuse without it, bytes compared (Date masked).

function build(framework: any) {
  const app = framework()
  app.use(framework.json())
  app.post('/', (req: any, res: any) => res.json(req.body))
  return app
}

/** Sends the head, and the body once 100 Continue came (or not at all). */
function expectContinue(port: number, extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (d) => {
      text += d.toString('latin1')
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('{"a":1}')
    })
    socket.on('end', () => resolve(text.replace(/^Date: .*$/m, 'Date: <date>')))
    socket.on('error', reject)
    socket.write(`POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n${extra}Connection: close\r\n\r\n`)
  })
}

describe('Expect: 100-continue', () => {
  describe('without a checkContinue listener', () => {
    const both = onBoth(build)
    it('100 Continue, then the answer to the body', async () => {
      const a = await expectContinue(both.express.port)
      const b = await expectContinue(both.xypriss.port)
      expect(a).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\{"a":1\}$/)
      expect(b).toBe(a)
    })
  })

  describe("with a 'checkContinue' listener", () => {
    const both = onBoth((framework) => {
      const app = build(framework)
      const listen = app.listen.bind(app)
      app.listen = (...args: any[]) => {
        const server = listen(...args)
        server.on('checkContinue', (req: any, res: any) => {
          if (req.headers['x-deny']) {
            res.statusCode = 417
            return res.end('no')
          }
          res.writeContinue()
          app(req, res)
        })
        return server
      }
      return app
    })
    it('accepted: writeContinue(), then the app', async () => {
      const a = await expectContinue(both.express.port)
      const b = await expectContinue(both.xypriss.port)
      expect(a).toContain('{"a":1}')
      expect(b).toBe(a)
    })
    it('refused: 417 without 100 Continue', async () => {
      const a = await expectContinue(both.express.port, 'X-Deny: 1\r\n')
      const b = await expectContinue(both.xypriss.port, 'X-Deny: 1\r\n')
      expect(a).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/)
      expect(b).toBe(a)
    })
  })
})
