// Application settings on express@5 and on xypriss: defaults, set/get/enable/disable, the compiled
// 'trust proxy fn', and the settings res.json reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

describe.each([
  ['express', express],
  ['xypriss', xypriss],
])('app settings on %s', (_name, framework) => {
  it('has Express defaults', () => {
    const app = framework()
    expect(Object.getPrototypeOf(app.settings)).toBe(null)
    expect(app.get('env')).toBe('test')
    expect(app.get('subdomain offset')).toBe(2)
    expect(app.get('trust proxy')).toBe(false)
    expect(app.get('jsonp callback name')).toBe('callback')
    expect(app.get('views')).toBe(process.cwd() + '/views')
    expect(typeof app.get('view')).toBe('function')
    expect(app.get('view engine')).toBeUndefined()
    expect(app.enabled('view cache')).toBe(false)
    expect(app.enabled('x-powered-by')).toBe(true)
    expect(app.get('constructor')).toBeUndefined()
  })

  it('set returns the app, get/enabled/disabled read back', () => {
    const app = framework()
    expect(app.set('foo', 'bar')).toBe(app)
    expect(app.get('foo')).toBe('bar')
    expect(app.set('foo')).toBe('bar')
    expect(app.enable('flag')).toBe(app)
    expect(app.enabled('flag')).toBe(true)
    expect(app.disable('flag').disabled('flag')).toBe(true)
  })

  it("enables 'view cache' in production", () => {
    const env = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    try {
      const app = framework()
      expect(app.get('env')).toBe('production')
      expect(app.enabled('view cache')).toBe(true)
    } finally {
      process.env.NODE_ENV = env
    }
  })

  it("compiles 'trust proxy' into 'trust proxy fn'", () => {
    const app = framework()
    const fn = () => app.get('trust proxy fn')
    expect(fn()('127.0.0.1', 0)).toBe(false)
    app.set('trust proxy', true)
    expect(fn()('8.8.8.8', 5)).toBe(true)
    app.set('trust proxy', 2)
    expect([fn()('x', 0), fn()('x', 1), fn()('x', 2)]).toEqual([true, true, false])
    app.set('trust proxy', 'loopback, 10.0.0.0/8')
    expect([fn()('127.0.0.1', 0), fn()('::1', 0), fn()('10.9.9.9', 1), fn()('11.0.0.1', 1)]).toEqual([true, true, true, false])
    app.set('trust proxy', ['uniquelocal'])
    expect([fn()('192.168.1.1', 0), fn()('127.0.0.1', 0)]).toEqual([true, false])
    const custom = (addr: string) => addr === 'a'
    app.set('trust proxy', custom)
    expect(fn()).toBe(custom)
    expect(() => app.set('trust proxy', 'not-an-ip')).toThrow(/invalid IP address: not-an-ip/)
  })
})

describe('json settings reach res.json', () => {
  let onExpress: Running
  let onXypriss: Running
  function build(framework: any) {
    const app = framework()
    app.set('json spaces', 2)
    app.set('json replacer', (key: string, value: unknown) => (key === 'secret' ? undefined : value))
    app.set('json escape', true)
    app.get('/', (req: any, res: any) => res.json({ a: '<b>&', secret: 1 }))
    return app
  }
  beforeAll(async () => {
    onExpress = await listen(build(express))
    onXypriss = await listen(build(xypriss))
  })
  afterAll(async () => {
    await onExpress.close()
    await onXypriss.close()
  })
  it('formats the same bytes', async () => {
    const [a, b] = await Promise.all([request(onExpress.port, 'GET', '/'), request(onXypriss.port, 'GET', '/')])
    expect(a.body.toString()).toBe('{\n  "a": "\\u003cb\\u003e\\u0026"\n}')
    expect(b.body.toString()).toBe(a.body.toString())
  })
})
