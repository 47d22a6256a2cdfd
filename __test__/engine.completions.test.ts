import { describe, expect, it } from 'vitest'
import { onBoth, request, sentHead } from './helpers'

// Buffered responses cross to the engine in batches (lib/engine/completions.ts): end() writes each
// into a shared arena and the batch is handed over every few responses or once per tick; a
// response the arena cannot take (a custom status message, a body larger than it) goes in its own
// call. Whatever a batch holds, in whatever order, every client gets exactly what Express sends.

/** A seeded generator (mulberry32), so a failing mix replays. */
function generator(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Answer = (res: any, i: number) => void

// What a response can be, from the arena's point of view.
const ANSWERS: Array<[kind: string, answer: Answer]> = [
  ['small JSON with UTF-8 text', (res, i) => res.json({ i, text: 'ü € 😀' })],
  ['string larger than the arena', (res, i) => res.send(String(i % 10).repeat(100_000))],
  ['buffer larger than the arena', (res, i) => res.send(Buffer.alloc(70_000, i % 256))],
  ['a kilobyte or so, to fill the arena', (res, i) => res.send('y'.repeat(1_200 + i))],
  ['empty body with a status', (res) => res.status(201).send('')],
  ['custom status message', (res) => {
    res.statusMessage = 'Fine Thanks'
    res.send('custom')
  }],
  ['Latin-1 header value', (res) => res.set('X-Latin', 'caf\u00e9').send('latin1 header')],
  ['bare end()', (res) => res.end()],
  ['binary body', (res, i) => res.type('bin').send(Buffer.from([0, 1, i % 256, 255]))],
  ['no ETag, no Date', (res) => {
    res.sendDate = false
    res.setHeader('Content-Type', 'text/plain')
    res.end('plain')
  }],
]

/** An app whose `/batch/:i?of=N` requests wait until N have come, then are answered in one loop. */
function build(kinds: number[]) {
  return (framework: any) => {
    const app = framework()
    let waiting: Array<[number, any]> = []
    app.get('/batch/:i', (req: any, res: any) => {
      waiting.push([Number(req.params.i), res])
      if (waiting.length < Number(req.query.of)) return
      const all = waiting
      waiting = []
      for (const [i, r] of all) ANSWERS[kinds[i]][1](r, i)
    })
    return app
  }
}

const COUNT = 150
const random = generator(0x5eed)
const kinds = Array.from({ length: COUNT }, () => Math.floor(random() * ANSWERS.length))

describe('responses answered together', () => {
  const both = onBoth(build(kinds))

  it(`${COUNT} responses ended in one loop, every kind of response among them, reach their clients as Express sends them`, async () => {
    const ask = (port: number) =>
      Promise.all(Array.from({ length: COUNT }, (_, i) => request(port, 'GET', `/batch/${i}?of=${COUNT}`)))
    const [expected, got] = await Promise.all([ask(both.express.port), ask(both.xypriss.port)])
    for (let i = 0; i < COUNT; i++) {
      const what = `#${i}: ${ANSWERS[kinds[i]][0]}`
      expect(got[i].status, what).toBe(expected[i].status)
      expect(sentHead(got[i]), what).toEqual(sentHead(expected[i]))
      expect(got[i].body.equals(expected[i].body), what).toBe(true)
    }
    // every kind was in the mix
    expect(new Set(kinds).size).toBe(ANSWERS.length)
  })

  it('a connection that had its answer in a batch serves its next request', async () => {
    const { Agent } = await import('node:http')
    const agent = new Agent({ keepAlive: true, maxSockets: 4 })
    try {
      const first = await Promise.all(Array.from({ length: 4 }, (_, i) => request(both.xypriss.port, 'GET', `/batch/${i}?of=4`, { agent })))
      const again = await Promise.all(Array.from({ length: 4 }, (_, i) => request(both.xypriss.port, 'GET', `/batch/${i}?of=4`, { agent })))
      expect(again.map((r) => r.status)).toEqual(first.map((r) => r.status))
      expect(again.map((r) => r.body.length)).toEqual(first.map((r) => r.body.length))
    } finally {
      agent.destroy()
    }
  })
})
