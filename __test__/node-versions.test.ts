import { getDefaultHighWaterMark } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { express, listen, onBoth, raw, request, xypriss } from './helpers'

// Where Node's http changed between 20, 22 and 24 (chunk framing of writes made in one tick,
// writableFinished, when an unread request ends), the engine behaves like the Node running the
// test: each case runs on express@5 (Node's own server) and on xypriss and must match.

const maskDate = (text: string) => text.replace(/^Date: .*$/gm, 'Date: <date>')
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

function buildWire(framework: any) {
  const app = framework()
  app.get('/one-tick', (req: any, res: any) => {
    res.write('a')
    res.write(Buffer.from('bb'))
    res.end('ccc')
  })
  app.get('/ticks', async (req: any, res: any) => {
    res.write('a')
    await tick()
    res.write('bb')
    res.write('c')
    await tick()
    res.write('dddd')
    await tick()
    res.end()
  })
  app.get('/cork', (req: any, res: any) => {
    res.cork()
    res.write('a')
    setTimeout(() => {
      res.write('b')
      res.uncork()
      setTimeout(() => res.end('c'), 5)
    }, 5)
  })
  app.get('/cork-after-write', (req: any, res: any) => {
    res.write('a')
    res.cork()
    setTimeout(() => {
      res.write('bb')
      res.uncork()
      res.end()
    }, 5)
  })
  app.get('/empty-writes', (req: any, res: any) => {
    res.write('')
    res.write('a')
    res.write(Buffer.alloc(0))
    res.end('')
  })
  return app
}

describe('chunk framing of streamed writes, as the running Node frames them', () => {
  const both = onBoth(buildWire)
  for (const path of ['/one-tick', '/ticks', '/cork', '/cork-after-write', '/empty-writes']) {
    it(path, async () => {
      const request = `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`
      const [a, b] = [await raw(both.express.port, request), await raw(both.xypriss.port, request)]
      expect(a).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n0\r\n\r\n$/)
      expect(maskDate(b)).toBe(maskDate(a))
    })
  }
})

// What middleware sees of req and res from end() to the last 'close': the order of the events
// and the state at each. (Not req.complete, which on Node depends on when the body's packet
// arrives, nor res.writableLength, which on Node counts the socket's buffer: see the README.)
async function observeEnd(framework: any, path: string, method: string, body?: string) {
  const log: string[] = []
  const state = (req: any, res: any) =>
    `req ended=${req.readableEnded} destroyed=${req.destroyed} readable=${req.readable}` +
    ` | res writableFinished=${res.writableFinished} destroyed=${res.destroyed}`
  const app = framework()
  app.all('/:kind', (req: any, res: any) => {
    for (const event of ['end', 'close']) req.on(event, () => log.push(`req ${event}: ${state(req, res)}`))
    for (const event of ['finish', 'close']) res.on(event, () => log.push(`res ${event}: ${state(req, res)}`))
    const finish = () => {
      res.end('done')
      log.push(`after end(): ${state(req, res)}`)
    }
    if (req.params.kind === 'read') {
      req.resume()
      req.on('end', finish)
    } else if (req.params.kind === 'stream') {
      res.write('x')
      log.push(`after write(): ${state(req, res)}`)
      setTimeout(finish, 5)
    } else {
      finish()
    }
  })
  const server = await listen(app)
  await request(server.port, method, path, { body })
  await new Promise((resolve) => setTimeout(resolve, 60))
  await server.close()
  return log
}

describe('the end of an exchange, as the running Node ends it', () => {
  for (const [title, path, method, body] of [
    ['a request without a body', '/plain', 'GET', undefined],
    ['a streamed response', '/stream', 'GET', undefined],
    ['a body nobody read', '/unread', 'POST', 'a body nobody reads'],
    ['a body read to its end', '/read', 'POST', 'a body read to its end'],
  ] as const) {
    it(title, async () => {
      const a = await observeEnd(express, path, method, body)
      const b = await observeEnd(xypriss, path, method, body)
      expect(a.filter((line) => line.startsWith('res close')).length).toBe(1)
      expect(b).toEqual(a)
    })
  }
})

describe('backpressure across joined writes', () => {
  it("write() returning false is followed by 'drain' and every byte arrives", async () => {
    const chunk = Buffer.alloc(48 * 1024, 'z')
    const run = async (framework: any) => {
      const seen = { returns: [] as boolean[], drains: 0 }
      const app = framework()
      app.get('/big', (req: any, res: any) => {
        res.on('drain', () => seen.drains++)
        let sent = 0
        const pump = () => {
          while (sent < 12) {
            sent++
            const below = res.write(chunk)
            seen.returns.push(below)
            if (!below) return void res.once('drain', pump)
          }
          res.end()
        }
        pump()
      })
      const server = await listen(app)
      const reply = await request(server.port, 'GET', '/big')
      await server.close()
      return { length: reply.body.length, bytes: reply.body.equals(Buffer.alloc(12 * chunk.length, 'z')), ...seen }
    }
    const a = await run(express)
    const b = await run(xypriss)
    expect(a.length).toBe(12 * chunk.length)
    expect(b.length).toBe(a.length)
    expect(b.bytes).toBe(true)
    expect(b.returns.length).toBe(12)
    // each false write was followed by exactly the one 'drain' the pump waited for
    expect(b.drains).toBeGreaterThanOrEqual(b.returns.filter((r) => !r).length)
  })
})

describe('the properties that follow the running Node', () => {
  it("highWaterMark of the server and of res is the running Node's default", async () => {
    const app = xypriss()
    let seen: number | undefined
    app.get('/', (req: any, res: any) => {
      seen = res.writableHighWaterMark
      res.end()
    })
    const server = await listen(app)
    await request(server.port, 'GET', '/')
    expect(server.server.highWaterMark).toBe(getDefaultHighWaterMark(false))
    expect(seen).toBe(server.server.highWaterMark)
    await server.close()
  })
})
