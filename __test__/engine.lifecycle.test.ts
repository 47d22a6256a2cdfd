import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { express, listen, waitFor, xypriss } from './helpers'

// A request whose body has fully arrived is the app's, whole, even when its client closes the
// connection right after sending it (load balancers and load tools do): 'end' and
// req.complete === true, no 'aborted', and body parsers succeed; only writing the response fails.
// 'aborted' is for a body cut short. The same app on express@5 (node:http) and on xypriss.

const CONNECTIONS = 128
const BURSTS = 4

function app(framework: any, seen: { ok: number; aborted: number; errors: string[]; incomplete: number }) {
  const app = framework()
  app.use((req: any, res: any, next: any) => {
    req.on('aborted', () => seen.aborted++)
    next()
  })
  app.use(framework.json({ limit: '1mb' }))
  app.post('/items', (req: any, res: any) => {
    if (!req.complete || req.body.items.length !== 100) seen.incomplete++
    seen.ok++
    res.json({ n: req.body.items.length })
  })
  app.use((err: any, req: any, res: any, next: any) => {
    seen.errors.push(String(err.message))
    res.status(400).end()
  })
  return app
}

const body = JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item-${i}-${'x'.repeat(40)}` })) })

/** Sends one complete request and closes at once: FIN after the last byte, or destroy(). */
function sendAndLeave(port: number, destroy: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const request = `POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      if (destroy) socket.write(request, () => socket.destroy())
      // Node keeps a half-closed connection open once it answered: the client stops waiting.
      else socket.end(request, () => setTimeout(() => socket.destroy(), 1500))
    })
    socket.on('close', () => resolve())
    socket.on('error', () => resolve())
  })
}

/** A body cut short: half of it, then the client goes away. */
function sendHalfAndLeave(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 3000)}`, () =>
        setTimeout(() => socket.destroy(), 50),
      )
    })
    socket.on('close', () => resolve())
    socket.on('error', () => resolve())
  })
}

describe.each([
  ['express', express],
  ['xypriss', xypriss],
])('requests whose clients leave right after sending them, on %s', (_name, framework) => {
  it(`${BURSTS} bursts of ${CONNECTIONS} connections posting ${body.length}-byte JSON bodies: every request whole, no 'aborted', no error`, async () => {
    const seen = { ok: 0, aborted: 0, errors: [] as string[], incomplete: 0 }
    const running = await listen(app(framework, seen))
    for (let burst = 0; burst < BURSTS; burst++) {
      await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => sendAndLeave(running.port, i % 2 === 1)))
    }
    await waitFor(() => seen.ok + seen.errors.length >= BURSTS * CONNECTIONS, 20_000).catch(() => {})
    expect(seen.errors).toEqual([])
    expect(seen.aborted).toBe(0)
    expect(seen.incomplete).toBe(0)
    expect(seen.ok).toBe(BURSTS * CONNECTIONS)
    await running.close()
  })

  it('a body too large to come with its head (it streams) is delivered whole too', async () => {
    const seen = { ok: 0, aborted: 0, errors: [] as string[], incomplete: 0 }
    const running = await listen(app(framework, seen))
    const large = JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => ({ id: i, name: 'y'.repeat(2000) })) })
    await Promise.all(
      Array.from(
        { length: 16 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const socket = net.connect(running.port, '127.0.0.1', () => {
              const request = `POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(large)}\r\n\r\n${large}`
              if (i % 2 === 1) socket.write(request, () => socket.destroy())
              else socket.end(request, () => setTimeout(() => socket.destroy(), 1500))
            })
            socket.on('close', () => resolve())
            socket.on('error', () => resolve())
          }),
      ),
    )
    await waitFor(() => seen.ok + seen.errors.length >= 16, 10_000).catch(() => {})
    expect(seen.errors).toEqual([])
    expect(seen.aborted).toBe(0)
    expect(seen.ok).toBe(16)
    await running.close()
  })

  it("a body cut short is 'aborted', and the body parser says so", async () => {
    const seen = { ok: 0, aborted: 0, errors: [] as string[], incomplete: 0 }
    const running = await listen(app(framework, seen))
    await Promise.all(Array.from({ length: 8 }, () => sendHalfAndLeave(running.port)))
    await waitFor(() => seen.errors.length >= 8, 10_000)
    expect(seen.ok).toBe(0)
    expect(seen.aborted).toBe(8)
    expect(new Set(seen.errors)).toEqual(new Set(['request aborted']))
    await running.close()
  })
})
