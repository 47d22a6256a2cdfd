import http from 'node:http'
import { describe, expect, it } from 'vitest'
import { express, listen, request, xypriss } from './helpers'

// The ServerResponse / IncomingMessage properties middleware reads, before and after end(), at
// 'finish' and at 'close', on express@5 (Node's objects) and on xypriss.

const RES = ['statusCode', 'statusMessage', 'headersSent', 'writableEnded', 'writableFinished', 'finished', 'sendDate',
  'chunkedEncoding', 'shouldKeepAlive', 'useChunkedEncodingByDefault', 'writable', 'destroyed', 'closed', 'writableLength',
  'writableHighWaterMark', 'writableCorked', 'writableObjectMode', 'writableNeedDrain', 'strictContentLength', '_headerSent',
  'maxRequestsOnConnectionReached']
const REQ = ['complete', 'aborted', 'readable', 'readableEnded', 'destroyed', 'httpVersionMajor', 'httpVersionMinor',
  'statusCode', 'statusMessage', 'upgrade']
const snapshot = (o: any, names: string[]) => Object.fromEntries(names.map((n) => [n, o[n] === undefined ? '<undefined>' : o[n]]))

async function observe(framework: any, keepAlive: boolean) {
  const log: unknown[] = []
  const app = framework()
  app.get('/', (req: any, res: any) => {
    log.push(['res before', snapshot(res, RES)], ['req before', snapshot(req, REQ)])
    res.on('finish', () => log.push(['res at finish', snapshot(res, RES)]))
    res.on('close', () => log.push(['res at close', snapshot(res, RES)], ['req at close', snapshot(req, REQ)]))
    res.setHeader('X-A', '1')
    res.setHeader('x-b', ['2', '3'])
    log.push(['headers', res.getHeaders(), res.getHeaderNames(), res.hasHeader('X-A')])
    log.push(['end returns res', res.end('done') === res], ['res after end', snapshot(res, RES)])
  })
  const server = await listen(app)
  const agent = new http.Agent({ keepAlive })
  await request(server.port, 'GET', '/', { agent })
  agent.destroy()
  await new Promise((r) => setTimeout(r, 50))
  await server.close()
  return log
}

describe("Node's response and request surface", () => {
  for (const keepAlive of [true, false]) {
    it(`matches Node's at every stage (${keepAlive ? 'kept-alive' : 'closing'} connection)`, async () => {
      const a = await observe(express, keepAlive)
      const b = await observe(xypriss, keepAlive)
      expect(a.length).toBe(8)
      expect(b).toEqual(a)
    })
  }
})
