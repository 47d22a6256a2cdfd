import { describe, expect, it } from 'vitest'
import { express, listen, raw, xypriss } from './helpers'

// Socket timeouts as Node runs them: the timer restarts on activity, then the request (while
// incomplete), the response and the server may take it; when none listens the socket is destroyed.
// The same app on express@5 and xypriss, raw bytes compared (Date masked).

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')

function build(framework: any) {
  const app = framework()
  app.get('/res-timeout', (req: any, res: any) => {
    res.setTimeout(100, () => res.status(503).send('too slow'))
  })
  // A GET is complete at once, so the request's own timeout listener is never asked (as in Node).
  app.get('/req-timeout', (req: any, res: any) => {
    req.setTimeout(100, () => res.status(503).send('never'))
  })
  app.get('/activity', (req: any, res: any) => {
    res.setTimeout(300, () => res.end('timed out'))
    res.write('a')
    // Writes keep the connection active: without them the timeout would fire between b and c.
    setTimeout(() => res.write('b'), 200)
    setTimeout(() => res.write('c'), 400)
  })
  return app
}

async function both(path: string) {
  const out: string[] = []
  for (const framework of [express, xypriss]) {
    const server = await listen(build(framework))
    out.push(maskDate(await raw(server.port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, undefined, 3000)))
    await server.close()
  }
  return out
}

describe('socket timeouts', () => {
  it('res.setTimeout(ms, callback) answers a request the handler left hanging', async () => {
    const [a, b] = await both('/res-timeout')
    expect(a).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*too slow$/)
    expect(b).toBe(a)
  })

  it('with no listener taking it, the timed-out socket is destroyed', async () => {
    const [a, b] = await both('/req-timeout')
    expect(a).toBe('')
    expect(b).toBe(a)
  })

  it('writes are activity: the timer starts over after each', async () => {
    const [a, b] = await both('/activity')
    expect(a).toMatch(/\r\n\r\n1\r\na\r\n1\r\nb\r\n1\r\nc\r\n9\r\ntimed out\r\n0\r\n\r\n$/)
    expect(b).toBe(a)
  })

  it("server.setTimeout(ms, callback) gets the idle socket through the server's 'timeout'", async () => {
    const out: string[] = []
    for (const framework of [express, xypriss]) {
      const app = framework()
      app.get('/hang', () => {})
      const server = await listen(app)
      const timedOut: string[] = []
      server.server.setTimeout(100, (socket: any) => {
        timedOut.push(typeof socket.destroy)
        socket.destroy()
      })
      out.push(await raw(server.port, 'GET /hang HTTP/1.1\r\nHost: t\r\n\r\n', undefined, 3000))
      expect(timedOut).toEqual(['function'])
      await server.close()
    }
    expect(out).toEqual(['', ''])
  })
})
