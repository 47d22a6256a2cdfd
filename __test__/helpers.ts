// Real sockets on 127.0.0.1 against the built package, loaded by its own name (package.json's
// `exports`: dist/ and the .node addon), as an app would load it.
import http from 'node:http'
import net from 'node:net'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
export const xypriss = require('xypriss')
export const express = require('express')

export interface Running {
  port: number
  server: any
  close(): Promise<void>
}

export function listen(app: any, host = '127.0.0.1'): Promise<Running> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, host, (err?: Error) => {
      if (err) return reject(err)
      resolve({
        port: server.address().port,
        server,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  /** Names in the case sent, in the order sent. */
  rawHeaders: string[]
  body: Buffer
}

export function request(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Sends raw bytes, collects everything until the server closes or `until` says enough. */
export function raw(port: number, payload: string | Buffer, until?: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(text)
    }, timeoutMs)
    socket.on('data', (d) => {
      text += d.toString('latin1')
      if (until?.(text)) {
        clearTimeout(timer)
        socket.destroy()
        resolve(text)
      }
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
    socket.on('error', (e: any) => (e.code === 'ECONNRESET' ? resolve(text) : reject(e)))
    socket.write(payload)
  })
}

export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

// ---- differential suites: the same app on express@5 and on xypriss ----

/** Starts `build(express)` and `build(xypriss)` for the enclosing suite; ports valid inside tests. */
export function onBoth(build: (framework: any) => any): { readonly express: Running; readonly xypriss: Running } {
  const servers: { express?: Running; xypriss?: Running } = {}
  beforeAll(async () => {
    servers.express = await listen(build(express))
    servers.xypriss = await listen(build(xypriss))
  })
  afterAll(async () => {
    await servers.express?.close()
    await servers.xypriss?.close()
  })
  return {
    get express() {
      return servers.express!
    },
    get xypriss() {
      return servers.xypriss!
    },
  }
}

/** A value as a JSON reply carries it, undefined kept visible (for `differentialValues`). */
export const out = (value: unknown) => ({ v: value === undefined ? '<undefined>' : value })

export type ValueCase = [method: string, path: string, headers: Record<string, string>, expected: unknown]

/** The same app on express@5 and on xypriss: each reply must equal the expected value, on both. */
export function differentialValues(build: (framework: any) => any, cases: ValueCase[]) {
  const both = onBoth(build)
  for (const [method, path, headers, expected] of cases) {
    it(`${method} ${path} ${JSON.stringify(headers)}`, async () => {
      const [a, b] = await Promise.all([
        request(both.express.port, method, path, { headers }),
        request(both.xypriss.port, method, path, { headers }),
      ])
      const got = (r: typeof a) => ({ status: r.status, body: r.body.length ? JSON.parse(r.body.toString()) : null })
      expect(got(a)).toEqual({ status: 200, body: { v: expected } })
      expect(got(b)).toEqual(got(a))
    })
  }
}

export type ReplyCase = [title: string, method: string, path: string, options?: { headers?: Record<string, string>; body?: string }, check?: (r: Reply) => void]

/** The head as sent (names in their case, in order), the clock's value masked. */
export function sentHead(r: Reply): string[] {
  const lines: string[] = []
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]
    lines.push(`${name}: ${name.toLowerCase() === 'date' ? '<date>' : r.rawHeaders[i + 1]}`)
  }
  return lines
}

/** The same app on express@5 and xypriss: every case must give the same status, body and head
 * (header names, case, order and values; only the Date value may differ). */
export function differentialReplies(build: (framework: any) => any, cases: ReplyCase[]) {
  const both = onBoth(build)
  for (const [title, method, path, options, check] of cases) {
    it(title, async () => {
      const a = await request(both.express.port, method, path, options)
      const b = await request(both.xypriss.port, method, path, options)
      expect(b.status).toBe(a.status)
      expect(b.body.toString('latin1')).toBe(a.body.toString('latin1'))
      expect(sentHead(b)).toEqual(sentHead(a))
      check?.(b)
    })
  }
}
