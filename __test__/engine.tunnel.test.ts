import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { express, listen, xypriss } from './helpers'

// Backpressure on handed-over connections (an 'upgrade' listener's socket), both ways, on
// express@5 (node:http) and on xypriss: a socket whose peer does not read says so through
// write() === false and 'drain'; a paused socket stops reading, so a flooding client is slowed
// by TCP. Memory stays bounded either way.

const MiB = 1024 * 1024
const TOTAL = 160 * MiB
const UPGRADE = 'GET /t HTTP/1.1\r\nHost: t\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n'
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const rss = () => process.memoryUsage().rss

/** Connects, sends the upgrade, resolves once the 101 is in, with the bytes that followed it. */
function upgraded(port: number): Promise<{ socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let head = Buffer.alloc(0)
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      socket.pause()
      expect(head.subarray(0, end + 4).toString('latin1')).toBe(SWITCHED)
      resolve({ socket, rest: head.subarray(end + 4) })
    }
    socket.on('data', onData)
    socket.on('error', reject)
    socket.write(UPGRADE)
  })
}

describe.each([
  ['express', express],
  ['xypriss', xypriss],
])('tunnel backpressure on %s', (_name, framework) => {
  it('write() says false while the client does not read, and drains once it does; memory stays bounded', async () => {
    const running = await listen(framework())
    const state = { accepted: 0, wentFalse: false, ended: false }
    running.server.on('upgrade', (req: any, socket: any) => {
      socket.write(SWITCHED)
      const chunk = Buffer.alloc(MiB, 'a')
      const go = () => {
        while (state.accepted < TOTAL) {
          state.accepted += chunk.length
          if (!socket.write(chunk)) {
            state.wentFalse = true
            socket.once('drain', go)
            return
          }
        }
        state.ended = true
        socket.end()
      }
      go()
    })
    const before = rss()
    const { socket, rest } = await upgraded(running.port)
    // The client reads nothing for a while: the writer must be held back.
    await sleep(1500)
    const heldAt = state.accepted
    expect(state.wentFalse).toBe(true)
    expect(heldAt).toBeLessThan(48 * MiB)
    expect(rss() - before).toBeLessThan(96 * MiB)
    let received = rest.length
    let peak = rss()
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20)
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (d: Buffer) => (received += d.length))
      socket.on('end', () => resolve())
      socket.on('error', reject)
      socket.resume()
    })
    clearInterval(sampler)
    socket.destroy()
    expect(state.ended).toBe(true)
    expect(received).toBe(TOTAL)
    expect(peak - before).toBeLessThan(128 * MiB)
    await running.close()
  })

  it('a paused socket stops reading: a flooding client is slowed by TCP, and gets everything through after resume()', async () => {
    const running = await listen(framework())
    let serverSocket: any
    let received = 0
    const ended = new Promise<void>((resolve) => {
      running.server.on('upgrade', (req: any, socket: any, head: Buffer) => {
        received += head.length
        serverSocket = socket
        socket.pause()
        socket.on('data', (d: Buffer) => (received += d.length))
        socket.on('end', () => {
          resolve()
          socket.end()
        })
        socket.write(SWITCHED)
      })
    })
    const before = rss()
    const { socket } = await upgraded(running.port)
    let written = 0
    const chunk = Buffer.alloc(MiB, 'b')
    const flood = new Promise<void>((resolve) => {
      const go = () => {
        while (written < TOTAL) {
          written += chunk.length
          if (!socket.write(chunk)) return socket.once('drain', go)
        }
        socket.end()
        resolve()
      }
      go()
    })
    await sleep(1500)
    // Paused: what the client got rid of is bounded by socket buffers, not by the flood.
    expect(written).toBeLessThan(48 * MiB)
    expect(received).toBe(0)
    expect(rss() - before).toBeLessThan(96 * MiB)
    serverSocket.resume()
    await flood
    await ended
    expect(received).toBe(TOTAL)
    socket.destroy()
    await running.close()
  })

  it('pause() and resume() in the middle of a stream lose nothing and keep the order', async () => {
    const running = await listen(framework())
    const got: Buffer[] = []
    const done = new Promise<void>((resolve) => {
      running.server.on('upgrade', (req: any, socket: any, head: Buffer) => {
        if (head.length) got.push(head)
        socket.write(SWITCHED)
        socket.on('data', (d: Buffer) => {
          got.push(d)
          socket.pause()
          setTimeout(() => socket.resume(), 2)
        })
        socket.on('end', () => {
          socket.end()
          resolve()
        })
      })
    })
    const { socket } = await upgraded(running.port)
    const sent = Buffer.alloc(4 * MiB)
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 0xff
    socket.end(sent)
    await done
    expect(Buffer.concat(got).equals(sent)).toBe(true)
    socket.destroy()
    await running.close()
  })
})
