// A plain `(req, res)` listener on Node's http.createServer and on xypriss.createHttpServer: what
// the listener (and the middleware in it) observes must be the same. Events are recorded in order.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { request, waitFor, xypriss } from './helpers'

const require = createRequire(import.meta.url)

type Listener = (req: any, res: any, log: string[]) => void

/** Runs `listener` on both servers, calls `client(port)` against each, returns both event logs. */
async function onBothServers(listener: Listener, client: (port: number) => Promise<unknown>, settle = (log: string[]) => log.length > 0) {
  const logs: Record<string, string[]> = {}
  for (const [name, create] of [['node', http.createServer], ['xypriss', xypriss.createHttpServer]] as const) {
    const log: string[] = []
    const server = (create as any)((req: any, res: any) => listener(req, res, log))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    await client(server.address().port).catch((e: any) => log.push(`client ${e.code ?? e.message}`))
    await waitFor(() => settle(log))
    await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => server.close(r))
    logs[name] = log
  }
  return logs
}

function record(req: any, res: any, log: string[]) {
  for (const ev of ['aborted', 'end', 'error', 'close']) req.on(ev, (e?: any) => log.push(`req ${ev}${e?.code ? ' ' + e.code : ''}`))
  for (const ev of ['finish', 'close', 'error']) res.on(ev, (e?: any) => log.push(`res ${ev}${e?.code ? ' ' + e.code : ''}`))
  req.socket.on('close', () => log.push('socket close'))
}

/** Sends part of a request, then drops the connection. */
function sendThenLeave(port: number, payload: string) {
  return new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(payload)
      setTimeout(() => {
        socket.destroy()
        resolve()
      }, 50)
    })
  })
}

function get(port: number, path = '/') {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject)
  })
}

describe('a (req, res) listener on Node and on the engine', () => {
  it('res.destroy(): the request is aborted and the response closes, in Node\'s order', async () => {
    const logs = await onBothServers(
      (req, res, log) => {
        record(req, res, log)
        res.destroy()
        log.push(`destroyed ${res.destroyed}`)
      },
      get,
      (log) => log.includes('req close'),
    )
    expect(logs.node).toContain('req aborted')
    expect(logs.xypriss).toEqual(logs.node)
  })

  it('the client goes away before the response: aborted, response close, then the request errors', async () => {
    const logs = await onBothServers(
      (req, res, log) => {
        record(req, res, log)
        log.push('request')
      },
      (port) =>
        new Promise<void>((resolve) => {
          const c = http.get({ host: '127.0.0.1', port, agent: false })
          c.on('error', () => resolve())
          setTimeout(() => c.destroy(), 100)
        }),
      (log) => log.includes('req close'),
    )
    expect(logs.node).toContain('req error ECONNRESET')
    expect(logs.xypriss).toEqual(logs.node)
  })

  it('writes after the response closed are accepted quietly (compression writes in a close listener)', async () => {
    const logs = await onBothServers(
      (req, res, log) => {
        res.once('close', () => {
          log.push(`write ${res.write('hello, ')}`)
          res.end('world')
          log.push('ended')
        })
        res.on('error', (e: any) => log.push(`res error ${e.code}`))
        res.destroy()
      },
      get,
      (log) => log.includes('ended'),
    )
    expect(logs.xypriss).toEqual(logs.node)
  })

  it('req.originalUrl is undefined: serve-static redirects to the URL as the listener rewrote it', async () => {
    const serveStatic = require('serve-static')
    const finalhandler = require('finalhandler')
    const root = mkdtempSync(path.join(tmpdir(), 'xypriss-static-'))
    mkdirSync(path.join(root, 'a dir'))
    const serve = serveStatic(root)
    const locations: Record<string, string> = {}
    const logs = await onBothServers(
      (req, res, log) => {
        log.push(`originalUrl ${req.originalUrl}`)
        req.url = req.url.replace(/^\/alias/, '/a dir')
        serve(req, res, finalhandler(req, res))
      },
      async (port) => {
        const r = await request(port, 'GET', '/alias')
        locations[port] = `${r.status} ${r.headers.location}`
      },
    )
    rmSync(root, { recursive: true })
    expect(logs.xypriss).toEqual(logs.node)
    expect(Object.values(locations)).toEqual(['301 /a%20dir/', '301 /a%20dir/'])
  })

  it("req/res carry Node's members only: middleware probing for Express's (req.ip, res.set) find none", async () => {
    const names = ['ip', 'ips', 'hostname', 'protocol', 'query', 'params', 'originalUrl', 'app']
    const resNames = ['status', 'set', 'get', 'send', 'json', 'locals', 'app']
    const logs = await onBothServers(
      (req, res, log) => {
        log.push('req ' + names.map((n) => `${n}:${typeof req[n]}`).join(' '))
        log.push('res ' + resNames.map((n) => `${n}:${typeof res[n]}`).join(' '))
        res.end()
      },
      get,
    )
    expect(logs.node[0]).toContain('ip:undefined')
    expect(logs.xypriss).toEqual(logs.node)
  })

  it("morgan logs a plain listener's request as under Node", async () => {
    const morgan = require('morgan')
    const logs = await onBothServers(
      (req, res, log) => {
        const logger = morgan(':remote-addr :method :url :status :res[content-length]', { stream: { write: (line: string) => log.push(line.trim()) } })
        logger(req, res, () => res.end('hello'))
      },
      (port) => get(port, '/a?b=1'),
    )
    expect(logs.node).toEqual(['127.0.0.1 GET /a?b=1 200 -'])
    expect(logs.xypriss).toEqual(logs.node)
  })

  it('an app handed requests by a plain listener gets its Express members', async () => {
    const app = xypriss()
    app.get('/x', (req: any, res: any) => res.json({ ip: req.ip, path: req.path, q: req.query.q, base: req.originalUrl }))
    const server = xypriss.createHttpServer((req: any, res: any) => app(req, res))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const r = await request(server.address().port, 'GET', '/x?q=1')
    await new Promise((r) => server.close(r))
    expect(JSON.parse(r.body.toString())).toEqual({ ip: '127.0.0.1', path: '/x', q: '1', base: '/x?q=1' })
  })

  it('writeHead() fixes the status line: statusCode / statusMessage set afterwards are not sent', async () => {
    const replies: string[] = []
    const logs = await onBothServers(
      (req, res, log) => {
        if (req.url === '/message') res.writeHead(201, 'Made')
        else res.writeHead(202, { 'X-A': '1' })
        res.statusCode = 200
        res.statusMessage = 'Changed'
        log.push(`statusCode ${res.statusCode}`)
        res.end('x')
      },
      async (port) => {
        for (const path of ['/', '/message']) {
          const r = await new Promise<http.IncomingMessage>((resolve, reject) =>
            http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => res.resume().on('end', () => resolve(res))).on('error', reject),
          )
          replies.push(`${r.statusCode} ${r.statusMessage} ${r.headers['x-a']}`)
        }
      },
      (log) => log.length === 2,
    )
    expect(logs.xypriss).toEqual(logs.node)
    expect(replies).toEqual(['202 Accepted 1', '201 Made undefined', '202 Accepted 1', '201 Made undefined'])
  })

  it('req.destroy() before the body was read aborts the request and closes the connection', async () => {
    const logs = await onBothServers(
      (req, res, log) => {
        record(req, res, log)
        req.destroy()
        log.push(`aborted ${req.aborted}`)
      },
      get,
      (log) => log.includes('req close') && log.some((l) => l.startsWith('client')),
    )
    expect(logs.node).toContain('client ECONNRESET')
    // the same events; Node emits the request's 'close' before the response's, the engine after
    expect(logs.xypriss.slice(0, 2)).toEqual(logs.node.slice(0, 2))
    expect([...logs.xypriss].sort()).toEqual([...logs.node].sort())
  })

  it('the client goes away while a streamed body is being read: data, aborted, response close, request error', async () => {
    const logs = await onBothServers(
      (req, res, log) => {
        record(req, res, log)
        req.on('data', (chunk: Buffer) => log.push(`data ${chunk.length}`))
      },
      (port) => sendThenLeave(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999\r\n\r\n' + 'A'.repeat(16)),
      (log) => log.includes('req close'),
    )
    // Where the socket's own 'close' falls among them differs by a tick; the rest is in order.
    const ordered = (log: string[]) => log.filter((e) => e !== 'socket close')
    expect(ordered(logs.node)).toEqual(['data 16', 'req aborted', 'res close', 'req error ECONNRESET', 'req close'])
    expect(ordered(logs.xypriss)).toEqual(ordered(logs.node))
    expect(logs.xypriss).toContain('socket close')
  })

  it('the client goes away while nobody reads its body: the request is still aborted', async () => {
    const logs = await onBothServers(
      (req, res, log) => record(req, res, log),
      (port) => sendThenLeave(port, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n0\r\n'),
      (log) => log.includes('req close'),
    )
    const ordered = (log: string[]) => log.filter((e) => e !== 'socket close')
    expect(ordered(logs.node)).toEqual(['req aborted', 'res close', 'req error ECONNRESET', 'req close'])
    expect(ordered(logs.xypriss)).toEqual(ordered(logs.node))
  })

  it('a small body still on its way: the request is handed over on its head, the body streams', async () => {
    const logs = await onBothServers(
      (req, res, log) => {
        log.push('request')
        req.on('data', (chunk: Buffer) => log.push(`data ${chunk.length}`))
        req.on('end', () => {
          log.push('end')
          res.end('ok')
        })
      },
      (port) =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\nConnection: close\r\n\r\n' + 'a'.repeat(10))
            setTimeout(() => socket.write('b'.repeat(40)), 150)
          })
          socket.on('data', () => {})
          socket.on('end', () => resolve())
          socket.on('error', reject)
        }),
      (log) => log.includes('end'),
    )
    expect(logs.node).toEqual(['request', 'data 10', 'data 40', 'end'])
    expect(logs.xypriss).toEqual(logs.node)
  })
})
