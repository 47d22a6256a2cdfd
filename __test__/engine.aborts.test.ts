import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, request, waitFor, xypriss, type Running } from './helpers'

let running: Running
let arrived = 0
let closedReq = 0
let closedRes = 0

beforeAll(async () => {
  const app = xypriss()
  // Never answers: only the client leaving ends these requests.
  app.get('/hang', (req: any, res: any) => {
    arrived++
    req.on('close', () => closedReq++)
    res.on('close', () => closedRes++)
  })
  // Answers with a head and one chunk, then nothing: the client leaves mid-response.
  app.get('/half', (req: any, res: any) => {
    arrived++
    req.on('close', () => closedReq++)
    res.on('close', () => closedRes++)
    res.write('x')
  })
  app.get('/ok', (req: any, res: any) => res.send('ok'))
  running = await listen(app)
})
afterAll(() => running.close())

function abortOne(port: number, midResponse: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${midResponse ? '/half' : '/hang'} HTTP/1.1\r\nHost: x\r\n\r\n`, () => {
        if (!midResponse) setTimeout(() => socket.destroy(), 1)
      })
    })
    if (midResponse) socket.once('data', () => socket.destroy())
    socket.on('close', () => resolve())
    socket.on('error', () => resolve())
  })
}

describe('client aborts', () => {
  it('frees every request after 10,000 aborts and tells the handlers', async () => {
    const total = 10_000
    const parallel = 100
    for (let done = 0; done < total; done += parallel) {
      await Promise.all(Array.from({ length: parallel }, (_, i) => abortOne(running.port, i % 2 === 0)))
    }
    // Each request either reached JS (then it gets 'close') or was dropped before dispatch.
    await waitFor(() => xypriss.inFlight() === 0, 20_000)
    await waitFor(() => closedRes === arrived && closedReq === arrived, 5000)
    // every mid-response abort reached JS; early ones may be dropped before dispatch
    expect(arrived).toBeGreaterThanOrEqual(total / 2)
    expect(xypriss.inFlight()).toBe(0)
    expect((await request(running.port, 'GET', '/ok')).body.toString()).toBe('ok')
  })
})
