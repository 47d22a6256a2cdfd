// Node's server limits and timeouts, each differential: the same listener and settings on
// Node's own http server and on the engine, raw bytes on the wire (status line, headers, body, and
// whether the server closed). Random cases come from a seeded generator, so a failure replays.
import http from 'node:http'
import net from 'node:net'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { xypriss } from './helpers'

interface Seen {
  /** Everything the server sent, its Date values masked. */
  text: string
  /** The server closed the connection (else it was still open when we stopped listening). */
  closed: boolean
}

/** Reports what a Node listener sees of the request, so heads can be compared through bodies. */
function describeRequest(req: http.IncomingMessage, res: http.ServerResponse) {
  res.end(
    JSON.stringify({
      url: req.url!.length,
      headers: Object.keys(req.headers).length,
      raw: req.rawHeaders.length / 2,
      distinct: Object.keys(req.headersDistinct).length,
      last: req.rawHeaders.slice(-2),
    }),
  )
}

const open: Array<{ close(): void; closeAllConnections?(): void }> = []
afterEach(() => {
  for (const server of open.splice(0)) {
    server.closeAllConnections?.()
    server.close()
  }
})

/** Node's server and the engine's, with the same listener and the same setup, listening. */
async function both(setup: (server: any) => void = () => {}, listener: http.RequestListener = describeRequest, options: object = {}) {
  const node: any = http.createServer(options, listener)
  const ours: any = xypriss.createHttpServer(options, listener)
  const ports: number[] = []
  for (const server of [node, ours] as any[]) {
    setup(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    open.push(server)
    ports.push(server.address().port)
  }
  return { node, ours, nodePort: ports[0], oursPort: ports[1] }
}

/**
 * Sends `chunks` (`gapMs` apart) on one connection and collects what comes back until the server
 * closes, or `quietMs` after the last byte either way.
 */
function exchange(port: number, chunks: string[], options: { gapMs?: number; quietMs?: number } = {}): Promise<Seen> {
  const { gapMs = 0, quietMs = 300 } = options
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let text = ''
    let done = false
    let timer: NodeJS.Timeout | undefined
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ text: text.replace(/^Date: .*$/gm, 'Date: <date>'), closed })
    }
    const quiet = () => {
      clearTimeout(timer)
      timer = setTimeout(() => finish(false), quietMs)
    }
    socket.on('data', (d) => {
      text += d.toString('latin1')
      quiet()
    })
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (done) return
        socket.write(chunk)
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs))
      }
      quiet()
    })
  })
}

async function compare(ports: { nodePort: number; oursPort: number }, chunks: string[], options?: { gapMs?: number; quietMs?: number }) {
  const [node, ours] = await Promise.all([exchange(ports.nodePort, chunks, options), exchange(ports.oursPort, chunks, options)])
  return { node, ours }
}

/** A seeded generator (xorshift), so a failing case replays. */
function random(seed: number) {
  let s = seed >>> 0 || 1
  return (bound: number) => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s % bound
  }
}

const head = (target: string, lines: string[], close = true) =>
  `GET ${target} HTTP/1.1\r\nHost: a\r\n${lines.map((l) => `${l}\r\n`).join('')}${close ? 'Connection: close\r\n' : ''}\r\n`

describe("maxHeaderSize: Node's count of a head (target, names, values) and its 431", () => {
  it('random heads around random limits get what Node gives them', async () => {
    const next = random(20_240_601)
    const statuses = new Set<string>()
    for (let round = 0; round < 12; round++) {
      const limit = 400 + next(4000)
      const ports = await both((server) => (server.maxHeaderSize = limit))
      for (let i = 0; i < 10; i++) {
        const target = `/${'t'.repeat(next(60))}`
        const count = 1 + next(30)
        // Values sized so the head's count lands near the limit, with blanks before and after.
        const each = Math.max(1, Math.floor((limit - target.length - 20) / count) - 3 + next(7))
        const lines = Array.from({ length: count }, (_, j) => `h${j}:${' \t'.slice(0, next(3))}${'v'.repeat(each)}${' '.repeat(next(2))}`)
        const { node, ours } = await compare(ports, [head(target, lines)])
        expect({ round, i, limit, ours }).toEqual({ round, i, limit, ours: node })
        statuses.add(ours.text.slice(9, 12))
      }
    }
    // The cases fall on both sides of the limit.
    expect([...statuses].sort()).toEqual(['200', '431'])
  })

  it('a request target too long is a 431, as from Node (its parser counts the target toward the limit)', async () => {
    const ports = await both()
    for (const length of [16_000, 16_362, 16_363, 20_000]) {
      const { node, ours } = await compare(ports, [head(`/${'a'.repeat(length - 1)}`, [])])
      expect(ours).toEqual(node)
    }
    const { ours } = await compare(ports, [head(`/${'a'.repeat(17_000)}`, [])])
    expect(ours.text).toBe('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n')
  })

  it('a head that never ends is answered 431 as soon as it is over the limit, as by Node', async () => {
    const ports = await both((server) => (server.maxHeaderSize = 1000))
    const { node, ours } = await compare(ports, [`GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(1200)}`], { quietMs: 500 })
    expect(ours).toEqual(node)
    expect(ours.text).toMatch(/^HTTP\/1\.1 431 /)
  })

  it('reads as on Node until set, and applies to connections accepted after a change', async () => {
    const ports = await both()
    expect(ports.ours.maxHeaderSize).toBe(ports.node.maxHeaderSize)
    const lines = [`X: ${'a'.repeat(3000)}`]
    const before = await compare(ports, [head('/', lines)])
    expect(before.ours.text).toMatch(/^HTTP\/1\.1 200 /)
    ports.node.maxHeaderSize = 2000
    ports.ours.maxHeaderSize = 2000
    const after = await compare(ports, [head('/', lines)])
    expect(after.ours).toEqual(after.node)
    expect(after.ours.text).toMatch(/^HTTP\/1\.1 431 /)
  })

  it('as a createServer() option', async () => {
    const ports = await both(() => {}, describeRequest, { maxHeaderSize: 500 })
    const { node, ours } = await compare(ports, [head('/', [`X: ${'a'.repeat(480)}`])])
    expect(ours).toEqual(node)
    expect(ours.text).toMatch(/^HTTP\/1\.1 431 /)
  })

  it("--max-http-header-size sets the process's default, as for Node's server", () => {
    const script = path.join(__dirname, 'fixtures', 'max-http-header-size.cjs')
    const run = spawnSync(process.execPath, ['--max-http-header-size=1000', script], { encoding: 'utf8', timeout: 30_000 })
    expect(run.stderr).toBe('')
    const results = JSON.parse(run.stdout)
    expect(results.ours).toEqual(results.node)
    expect(results.node).toEqual([200, 431])
  })
})

describe('maxHeadersCount: header lines beyond it refused (Node 22+) or cut (Node 20) as by the running Node', () => {
  it("more header lines than hyper's 100 reach the handlers, as with Node", async () => {
    const ports = await both()
    for (const count of [99, 100, 101, 150, 400]) {
      const lines = Array.from({ length: count }, (_, i) => `x-${i}: ${i}`)
      const { node, ours } = await compare(ports, [head('/', lines)])
      expect({ count, ours }).toEqual({ count, ours: node })
      expect(ours.text).toMatch(/^HTTP\/1\.1 200 /)
    }
  })

  it('the default (null) is 1000 lines', async () => {
    const ports = await both()
    for (const count of [996, 997, 998, 999, 1100]) {
      const lines = Array.from({ length: count }, (_, i) => `x${i}:`)
      const { node, ours } = await compare(ports, [head('/', lines)])
      expect({ count, ours }).toEqual({ count, ours: node })
    }
  })

  it('random counts around random limits, set before and after listen()', async () => {
    const next = random(7_771)
    let cut = false
    for (let round = 0; round < 8; round++) {
      const limit = [0, 1, 5, 31, 32, 62, 100, 150][round]
      const after = next(2) === 0
      const ports = await both((server) => {
        if (!after) server.maxHeadersCount = limit
      })
      if (after) {
        ports.node.maxHeadersCount = limit
        ports.ours.maxHeadersCount = limit
      }
      for (let i = 0; i < 6; i++) {
        const count = Math.max(0, limit - 3 + next(8) + (next(4) === 0 ? 40 : 0))
        // Repeated names, so that the cut shows in req.headers and req.headersDistinct too.
        const lines = Array.from({ length: count }, (_, j) => `x-${j % 7}: ${j}`)
        const { node, ours } = await compare(ports, [head('/', lines)])
        expect({ limit, count, ours }).toEqual({ limit, count, ours: node })
        cut ||= count > limit && limit > 0
      }
    }
    expect(cut).toBe(true)
  })

  it('a long head keeps its framing: a body and the next request after it are read right', async () => {
    const ports = await both(() => {}, (req, res) => {
      let body = ''
      req.setEncoding('latin1')
      req.on('data', (c) => (body += c))
      req.on('end', () => res.end(JSON.stringify({ url: req.url, body, n: req.rawHeaders.length, te: req.headers['transfer-encoding'] ?? null })))
    })
    const lines = Array.from({ length: 120 }, (_, i) => `x-${i}: ${i}`)
    const post = (lines2: string[], framing: string, body: string) =>
      `POST /p HTTP/1.1\r\nHost: a\r\n${lines2.map((l) => `${l}\r\n`).join('')}${framing}\r\n\r\n${body}`
    const chunks = [
      post(lines, 'Content-Length: 5', 'hello') +
        post([...lines.slice(0, 90), 'Transfer-Encoding: chunked', ...lines.slice(90)], 'X-Last: 1', '3\r\nabc\r\n0\r\n\r\n') +
        head('/next', [], true),
    ]
    for (const gapMs of [0, 5]) {
      const pieces = gapMs ? chunks[0].match(/[\s\S]{1,97}/g)! : chunks
      const { node, ours } = await compare(ports, pieces, { gapMs })
      expect(ours).toEqual(node)
      expect(ours.text.match(/HTTP\/1\.1 200 /g)).toHaveLength(3)
    }
  })
})

describe('requestTimeout: a request not whole in time gets 408 and the close', () => {
  // Node checks every connectionsCheckingInterval: a short one puts its 408 near the deadline.
  const timing = { requestTimeout: 800, headersTimeout: 400, connectionsCheckingInterval: 50 }

  it('a body that does not come whole in time, as on Node', async () => {
    const ports = await both(() => {}, (req, res) => {
      req.resume()
      req.on('end', () => res.end('got it'))
    }, timing)
    const chunks = ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n', 'abc', 'de']
    const { node, ours } = await compare(ports, chunks, { gapMs: 300, quietMs: 2500 })
    expect(ours).toEqual(node)
    expect(ours).toEqual({ text: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n', closed: true })
  })

  it('a request that comes whole in time is served, however long the handler takes', async () => {
    const ports = await both(() => {}, (req, res) => setTimeout(() => res.end('late but fine'), 1200), timing)
    const { node, ours } = await compare(ports, [head('/', [])], { quietMs: 2500 })
    expect(ours).toEqual(node)
    expect(ours.text).toMatch(/late but fine$/)
  })

  it('set after listen(), it applies to the connections already open', async () => {
    const ports = await both(() => {}, (req, res) => {
      req.resume()
      req.on('end', () => res.end('x'))
    }, { connectionsCheckingInterval: 50 })
    for (const server of [ports.node, ports.ours]) {
      server.headersTimeout = 300
      server.requestTimeout = 600
    }
    const { node, ours } = await compare(ports, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab'], { quietMs: 2000 })
    expect(ours).toEqual(node)
    expect(ours.text).toMatch(/^HTTP\/1\.1 408 /)
  })

  it("validated and defaulted as by Node's server: headersTimeout <= requestTimeout, and min(60 s, requestTimeout) by default", () => {
    for (const options of [{ requestTimeout: 5 }, { requestTimeout: 0 }, { requestTimeout: 90_000 }, { headersTimeout: 0, requestTimeout: 5 }]) {
      const node = http.createServer(options)
      const ours = xypriss.createHttpServer(options)
      for (const name of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize']) expect([name, ours[name]]).toEqual([name, (node as any)[name]])
    }
    const thrown = (make: () => unknown) => {
      try {
        make()
      } catch (error: any) {
        return { code: error.code, message: error.message }
      }
      return undefined
    }
    for (const options of [{ headersTimeout: 10, requestTimeout: 5 }, { requestTimeout: -1 }, { requestTimeout: '5' }, { keepAliveTimeout: 1.5 }, { maxHeaderSize: -1 }]) {
      const expected = thrown(() => http.createServer(options as any))
      expect(expected).toBeDefined()
      expect(thrown(() => xypriss.createHttpServer(options))).toEqual(expected)
    }
  })
})

describe('maxRequestsPerSocket: the last answer says close, later requests get 503 and dropRequest', () => {
  const request = (n: number) => `GET /${n} HTTP/1.1\r\nHost: a\r\n\r\n`
  const echo: http.RequestListener = (req, res) => res.end(`ok${req.url}`)

  it('one request after another, as on Node (the connection stays open until it idles out)', async () => {
    const ports = await both((server) => (server.maxRequestsPerSocket = 2), echo)
    const { node, ours } = await compare(ports, [request(1), request(2), request(3)], { gapMs: 100 })
    expect(ours).toEqual(node)
    expect(ours.closed).toBe(false)
    expect(ours.text).toContain('Keep-Alive: timeout=5, max=2\r\n')
    expect(ours.text).toContain('HTTP/1.1 503 Service Unavailable\r\nDate: <date>\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
  })

  it('pipelined, with dropRequest for each request beyond, as on Node', async () => {
    const dropped: Record<string, string[]> = { node: [], ours: [] }
    const ports = await both((server) => {
      server.maxRequestsPerSocket = 2
      const which = server instanceof xypriss.HttpServer ? 'ours' : 'node'
      server.on('dropRequest', (req: http.IncomingMessage, socket: net.Socket) => dropped[which].push(`${req.url} ${typeof socket.remotePort}`))
    }, echo)
    const { node, ours } = await compare(ports, [request(1) + request(2) + request(3) + request(4)])
    expect(ours).toEqual(node)
    expect(dropped.ours).toEqual(dropped.node)
    expect(dropped.ours).toEqual(['/3 number', '/4 number'])
  })

  it('set after listen(), and not a createServer() option (Node ignores it there)', async () => {
    const ports = await both(() => {}, echo, { maxRequestsPerSocket: 1 })
    expect(ports.ours.maxRequestsPerSocket).toBe(ports.node.maxRequestsPerSocket)
    ports.node.maxRequestsPerSocket = 1
    ports.ours.maxRequestsPerSocket = 1
    const { node, ours } = await compare(ports, [request(1), request(2)], { gapMs: 100 })
    expect(ours).toEqual(node)
    expect(ours.text).toMatch(/^HTTP\/1\.1 200 OK\r\nDate: <date>\r\nConnection: close\r\n/)
  })
})

describe('maxConnections: connections beyond it are closed at accept, with drop', () => {
  async function hold(port: number, count: number) {
    const sockets: net.Socket[] = []
    for (let i = 0; i < count; i++) {
      const socket = net.connect(port, '127.0.0.1')
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
      await new Promise((resolve) => socket.once('data', resolve))
      sockets.push(socket)
    }
    return sockets
  }

  it('as on Node: the next connection gets nothing and closes, getConnections counts the rest', async () => {
    const drops: Record<string, string[]> = { node: [], ours: [] }
    const ports = await both((server) => {
      server.maxConnections = 2
      const which = server instanceof xypriss.HttpServer ? 'ours' : 'node'
      server.on('drop', (data: any) => drops[which].push(Object.keys(data).sort().join(',') + ` ${data.remoteFamily}`))
    })
    for (const [which, port] of [['node', ports.nodePort], ['ours', ports.oursPort]] as const) {
      const server = which === 'node' ? ports.node : ports.ours
      const held = await hold(port, 2)
      const beyond = await exchange(port, [head('/', [])], { quietMs: 1000 })
      expect([which, beyond]).toEqual([which, { text: '', closed: true }])
      const count = await new Promise<number>((resolve) => server.getConnections((_: unknown, n: number) => resolve(n)))
      expect([which, count]).toEqual([which, 2])
      held[0].destroy()
      await new Promise((r) => setTimeout(r, 200))
      const next = await exchange(port, [head('/', [])])
      expect([which, next.text.slice(0, 15)]).toEqual([which, 'HTTP/1.1 200 OK'])
      for (const socket of held) socket.destroy()
    }
    expect(drops.ours).toEqual(drops.node)
    expect(drops.ours).toHaveLength(1)
  })

  it("0: no limit on Node 20, every connection dropped since Node 22 (the running Node's way)", async () => {
    const ports = await both((server) => (server.maxConnections = 0))
    const { node, ours } = await compare(ports, [head('/', [])])
    expect(ours).toEqual(node)
  })
})
