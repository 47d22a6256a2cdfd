// Node's server options the engine has no setting for: honoured at Node's default, refused with
// XYP_ERR_NOT_SUPPORTED otherwise, never taken and ignored.
import http from 'node:http'
import { getDefaultHighWaterMark } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { request, xypriss } from './helpers'

// [option, a value the engine honours (Node's default or equivalent), a value it cannot]
const options: Array<[name: string, honoured: unknown, refused: unknown]> = [
  // the running Node's default (16 KiB on Node 20, 64 KiB since), the engine's backpressure threshold
  ['highWaterMark', getDefaultHighWaterMark(false), 1024],
  ['requireHostHeader', true, false],
  ['rejectNonStandardBodyWrites', false, true],
  ['noDelay', true, false],
  ['keepAlive', false, true],
  ['keepAliveTimeoutBuffer', 1000, 0],
  ['joinDuplicateHeaders', false, true],
  ['insecureHTTPParser', false, true],
]
// settable as createServer() options only
const constructorOnly: Array<[name: string, honoured: unknown, refused: unknown]> = [
  ['IncomingMessage', http.IncomingMessage, class extends http.IncomingMessage {}],
  ['ServerResponse', http.ServerResponse, class extends http.ServerResponse {}],
  ['uniqueHeaders', undefined, ['set-cookie']],
]

function refusal(action: () => unknown): string | undefined {
  try {
    action()
  } catch (error) {
    return (error as { code?: string }).code
  }
  return undefined
}

describe('server options', () => {
  it("read as on Node's server until set", () => {
    const ours = xypriss.createHttpServer()
    const node = new http.Server()
    for (const name of ['maxRequestsPerSocket', 'maxConnections', 'requestTimeout', 'maxHeadersCount', 'headersTimeout', 'keepAliveTimeout',
      'maxHeaderSize', 'timeout', 'highWaterMark', 'requireHostHeader',
      'rejectNonStandardBodyWrites', 'noDelay', 'keepAlive', 'keepAliveInitialDelay', 'connectionsCheckingInterval',
      'joinDuplicateHeaders', 'insecureHTTPParser']) {
      expect([name, ours[name]]).toEqual([name, (node as any)[name]])
    }
  })

  for (const [name, honoured, refused] of options) {
    it(`${name}: ${JSON.stringify(honoured)} is taken, ${JSON.stringify(refused)} refused, as a property and as an option`, () => {
      const server = xypriss.createHttpServer()
      const before = server[name]
      expect(refusal(() => (server[name] = refused))).toBe('XYP_ERR_NOT_SUPPORTED')
      expect(server[name]).toBe(before)
      server[name] = honoured
      expect(server[name]).toBe(honoured)
      expect(refusal(() => xypriss.createHttpServer({ [name]: refused }, () => {}))).toBe('XYP_ERR_NOT_SUPPORTED')
      expect(refusal(() => xypriss.createHttpServer({ [name]: honoured }, () => {}))).toBeUndefined()
    })
  }

  for (const [name, honoured, refused] of constructorOnly) {
    it(`${name}: Node's own is taken, another refused`, () => {
      expect(refusal(() => xypriss.createHttpServer({ [name]: refused }))).toBe('XYP_ERR_NOT_SUPPORTED')
      expect(refusal(() => xypriss.createHttpServer({ [name]: honoured }))).toBeUndefined()
    })
  }

  it('a refusal says what the engine does instead', () => {
    const server = xypriss.createHttpServer()
    expect(() => (server.keepAlive = true)).toThrow(/keepAlive = true .*no TCP keep-alive probes.* not supported/)
  })

  it("Node's limits and timeouts take any value, as properties, and as options where Node reads them", () => {
    const values: Record<string, unknown> = {
      maxRequestsPerSocket: 100,
      maxConnections: 50,
      requestTimeout: 10_000,
      maxHeadersCount: 50,
      maxHeaderSize: 4096,
      headersTimeout: 5_000,
      keepAliveTimeout: 65_000,
      timeout: 1_000,
    }
    for (const [name, value] of Object.entries(values)) {
      const server = xypriss.createHttpServer()
      server[name] = value
      expect([name, server[name]]).toEqual([name, value])
      const asOption = xypriss.createHttpServer({ [name]: value })
      const node = http.createServer({ [name]: value } as http.ServerOptions)
      expect([name, asOption[name]]).toEqual([name, (node as any)[name]])
    }
  })

  it('keepAliveInitialDelay and connectionsCheckingInterval take any delay (moot or stricter on the engine)', () => {
    const server = xypriss.createHttpServer({ connectionsCheckingInterval: 1_000, keepAliveInitialDelay: 500 })
    expect([server.connectionsCheckingInterval, server.keepAliveInitialDelay]).toEqual([1_000, 500])
  })

  it('createServer(options, app) applies the options and serves the app', async () => {
    const app = xypriss()
    app.get('/', (req: any, res: any) => res.send('ok'))
    const server = xypriss.createHttpServer({ headersTimeout: 20_000, keepAliveTimeout: 7_000, requestTimeout: 300_000, noDelay: true }, app)
    expect([server.headersTimeout, server.keepAliveTimeout]).toEqual([20_000, 7_000])
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const reply = await request(server.address().port, 'GET', '/')
    expect(reply.body.toString()).toBe('ok')
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
})
