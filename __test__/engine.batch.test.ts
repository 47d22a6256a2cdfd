import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { listen, xypriss } from './helpers'

// The engine hands JS every event that came while JS was busy in one call: numbers in one
// Float64Array, strings and Buffers as the call's arguments, or in one array when there are too
// many for a call's arguments (lib/engine/batch-layout.ts). However large the batch, every request
// reaches its handler with its own method, URL, headers and body.

const CLIENTS = 400

// Clients on a thread of their own, so they connect and send while this thread is blocked.
const clientSource = `
const { parentPort, workerData } = require('node:worker_threads')
const http = require('node:http')
const { port, count, flag } = workerData
let sent = 0
const replies = []
for (let i = 0; i < count; i++) {
  const body = i % 2 === 0 ? JSON.stringify({ i, text: 'é'.repeat(i % 7) }) : undefined
  const req = http.request({ host: '127.0.0.1', port, method: body ? 'POST' : 'PUT', path: '/echo/' + i + '?q=' + i, agent: false,
    headers: { 'x-client': 'c' + i, 'content-type': 'application/json' } }, (res) => {
    const chunks = []
    res.on('data', (c) => chunks.push(c))
    res.on('end', () => {
      replies[i] = { status: res.statusCode, body: Buffer.concat(chunks).toString() }
      if (replies.filter(Boolean).length === count) parentPort.postMessage(replies)
    })
  })
  // every request written: wake the blocked test thread
  req.on('finish', () => { if (++sent === count) { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0) } })
  req.on('error', (e) => parentPort.postMessage({ error: String(e) }))
  req.end(body)
}
`

describe('a batch too large for one call', () => {
  it(`${CLIENTS} connections with a request each, arriving while JS is blocked, reach their handlers whole`, async () => {
    const app = xypriss()
    app.use(xypriss.json())
    app.all('/echo/:i', (req: any, res: any) => {
      res.json({ method: req.method, i: req.params.i, q: req.query.q, client: req.get('x-client'), body: req.body ?? null })
    })
    const running = await listen(app)
    try {
      const flag = new Int32Array(new SharedArrayBuffer(4))
      const worker = new Worker(clientSource, { eval: true, workerData: { port: running.port, count: CLIENTS, flag } })
      const replies = new Promise<Array<{ status: number; body: string }>>((resolve, reject) => {
        worker.on('message', (m) => {
          if (Array.isArray(m)) resolve(m)
          else reject(new Error(String((m as { error: string }).error)))
        })
        worker.on('error', reject)
      })
      // Block this thread (the engine's JS thread) until every request is written, and a moment
      // more for the engine to read them: they all wait in its queue for one wake-up.
      expect(Atomics.wait(flag, 0, 0, 20_000)).not.toBe('timed-out')
      Atomics.wait(flag, 0, 1, 500)
      const got = await replies
      await worker.terminate()
      for (let i = 0; i < CLIENTS; i++) {
        expect(got[i].status, `#${i}`).toBe(200)
        // a PUT without a body is sent chunked and empty: express.json() makes that {}
        const method = i % 2 === 0 ? 'POST' : 'PUT'
        const body = i % 2 === 0 ? { i, text: 'é'.repeat(i % 7) } : {}
        expect(JSON.parse(got[i].body), `#${i}`).toEqual({ method, i: String(i), q: String(i), client: `c${i}`, body })
      }
      // they came in one batch: a connection and a request event each
      expect(xypriss.engineStats().maxBatch).toBeGreaterThanOrEqual(CLIENTS)
    } finally {
      await running.close()
    }
  })
})
