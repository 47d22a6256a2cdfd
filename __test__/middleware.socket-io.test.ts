import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Server } from 'socket.io'
import { io } from 'socket.io-client'
import { listen, request, xypriss, express, type Running } from './helpers'

// socket.io attached to the server app.listen() returned, as its docs show: it wraps the
// 'request' listeners after listen() and takes Upgrade requests. Same app on express@5 and xypriss.

async function start(framework: any) {
  const app = framework()
  app.get('/plain', (req: any, res: any) => res.send('plain'))
  const running = await listen(app)
  const sio = new Server(running.server)
  sio.on('connection', (socket) => socket.on('ask', (m: string, ack: (reply: string) => void) => ack(`answer ${m}`)))
  return { running, sio }
}

function ask(port: number, transports: string[]): Promise<[string, string]> {
  return new Promise((resolve, reject) => {
    const client = io(`http://127.0.0.1:${port}`, { transports, forceNew: true, reconnection: false })
    client.on('connect_error', reject)
    client.emit('ask', 'x', (reply: string) => {
      const done = () => {
        const used = client.io.engine.transport.name
        client.close()
        resolve([reply, used])
      }
      // Starting on polling, wait for the upgrade to the WebSocket transport.
      if (transports.length > 1 && client.io.engine.transport.name !== 'websocket') client.io.engine.once('upgrade', done)
      else done()
    })
  })
}

describe('socket.io', () => {
  const both: Record<string, { running: Running; sio: Server }> = {}
  beforeAll(async () => {
    both.express = await start(express)
    both.xypriss = await start(xypriss)
  })
  afterAll(async () => {
    for (const { running, sio } of Object.values(both)) {
      sio.close()
      await running.close().catch(() => {})
    }
  })

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`acknowledged events over ${transports.join(' then ')}`, async () => {
      const a = await ask(both.express.running.port, transports)
      const b = await ask(both.xypriss.running.port, transports)
      expect(a).toEqual(['answer x', transports[transports.length - 1]])
      expect(b).toEqual(a)
    })
  }

  it("the app still answers its own routes and Express's 404 beside socket.io", async () => {
    for (const path of ['/plain', '/nothing-here']) {
      const a = await request(both.express.running.port, 'GET', path)
      const b = await request(both.xypriss.running.port, 'GET', path)
      expect(b.status).toBe(a.status)
      expect(b.body.toString()).toBe(a.body.toString())
    }
  })
})
