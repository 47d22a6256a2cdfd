// app.request / app.response: per-app prototypes over express.request / express.response. What is
// added to them shows on that app's req/res only; a mounted app inherits its parent's and may
// override them. Same replies from express@5 and xypriss, on the engine and on Node's http server.
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { differentialReplies as differential, express, request, xypriss } from './helpers'

function build(framework: any) {
  const app = framework()
  const other = framework()
  const sub = framework()
  const plain = framework()
  const deep = framework()
  app.request.who = function () {
    return 'app:' + this.url
  }
  app.response.shout = function (text: string) {
    return this.send(text.toUpperCase() + '!')
  }
  sub.request.who = function () {
    return 'sub:' + this.url
  }
  sub.response.shout = function (text: string) {
    return this.send('sub says ' + text)
  }
  other.request.who = () => 'other'
  app.get('/', (req: any, res: any) => res.shout(req.who()))
  // registered before the mount: the parent's prototypes apply again once the sub-app passes
  app.get('/sub/foo', (req: any, res: any) => res.shout(req.who()))
  sub.get('/', (req: any, res: any) => res.shout(req.who()))
  sub.get('/pass', (req: any, res: any, next: any) => next())
  plain.get('/', (req: any, res: any) => res.shout(req.who() + ' ' + (Object.getPrototypeOf(plain.request) === app.request)))
  deep.get('/', (req: any, res: any) => res.shout(req.who()))
  plain.use('/deep', deep)
  app.use('/sub', sub)
  app.use('/plain', plain)
  app.get('/sub/pass', (req: any, res: any) => res.shout(req.who()))
  app.get('/other', (req: any, res: any) => res.send(typeof req.who === 'function' && typeof res.shout))
  other.get('/', (req: any, res: any) => res.send(req.who() + ' ' + typeof res.shout))
  app.use('/other-app', other)
  app.get('/shape', (req: any, res: any) =>
    res.json({
      requestProto: Object.getPrototypeOf(app.request) === framework.request,
      responseProto: Object.getPrototypeOf(app.response) === framework.response,
      requestApp: app.request.app === app,
      ownKeys: Object.keys(app.request).sort(),
      application: typeof framework.application,
    }),
  )
  const bare = framework()
  bare.get('/', (req: any, res: any) => res.send(String(typeof req.who)))
  app.use('/bare', bare)
  return app
}

const cases: Parameters<typeof differential>[1] = [
  ['app.request and app.response extend req/res', 'GET', '/', {}, (r) => expect(r.body.toString()).toBe('APP:/!')],
  ['a sub-app overrides its parent', 'GET', '/sub', {}, (r) => expect(r.body.toString()).toBe('sub says sub:/')],
  ['the parent is not polluted by the sub-app', 'GET', '/sub/foo', {}, (r) => expect(r.body.toString()).toBe('APP:/SUB/FOO!')],
  ['back in the parent after the sub-app passes', 'GET', '/sub/pass', {}, (r) => expect(r.body.toString()).toBe('APP:/SUB/PASS!')],
  ['a sub-app inherits its parent', 'GET', '/plain', {}, (r) => expect(r.body.toString()).toBe('APP:/ TRUE!')],
  ['a sub-sub-app inherits through its parent', 'GET', '/plain/deep', {}, (r) => expect(r.body.toString()).toBe('APP:/!')],
  ['a mounted app that extended its own', 'GET', '/other-app', {}, (r) => expect(r.body.toString()).toBe('other function')],
  ['an unextended mounted app sees its parent', 'GET', '/bare', {}, (r) => expect(r.body.toString()).toBe('function')],
  ['the prototypes chain to express.request/response', 'GET', '/shape', {}, (r) => expect(JSON.parse(r.body.toString())).toEqual({ requestProto: true, responseProto: true, requestApp: true, ownKeys: ['app', 'who'], application: 'object' })],
]

describe('app.request / app.response on the engine', () => {
  differential(build, cases)

  it('only extend the app they belong to', async () => {
    const a = xypriss()
    const b = xypriss()
    a.request.only = () => 'a'
    b.get('/', (req: any, res: any) => res.send(typeof req.only))
    a.get('/', (req: any, res: any) => res.send(req.only()))
    const sa = a.listen(0, '127.0.0.1')
    const sb = b.listen(0, '127.0.0.1')
    await new Promise((r) => setTimeout(r, 20))
    expect((await request(sa.address().port, 'GET', '/')).body.toString()).toBe('a')
    expect((await request(sb.address().port, 'GET', '/')).body.toString()).toBe('undefined')
    sa.close()
    sb.close()
  })
})

describe('app.request / app.response on Node http.createServer(app)', () => {
  const servers: http.Server[] = []
  const ports: number[] = []
  beforeAll(async () => {
    for (const framework of [express, xypriss]) {
      const server = http.createServer(build(framework))
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      servers.push(server)
      ports.push((server.address() as any).port)
    }
  })
  afterAll(() => {
    for (const s of servers) s.close()
  })
  for (const [title, method, path, , check] of cases) {
    it(title, async () => {
      const [a, b] = await Promise.all(ports.map((port) => request(port, method, path)))
      expect(b.status).toBe(a.status)
      expect(b.body.toString()).toBe(a.body.toString())
      check?.(b)
    })
  }
})

describe('express.application / express.request / express.response', () => {
  for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as const) {
    it(`${name}: additions show on apps, req and res, on the engine and on Node's server`, async () => {
      framework.application.extraMethod = () => 'app method'
      framework.request.extraGetter = () => 'req method'
      framework.response.extraSend = function () {
        return this.send('res method ' + this.req.extraGetter())
      }
      try {
        const app = framework()
        expect(app.extraMethod()).toBe('app method')
        app.get('/', (req: any, res: any) => res.extraSend())
        const engine = app.listen(0, '127.0.0.1')
        const node = http.createServer(app).listen(0, '127.0.0.1')
        await new Promise((r) => setTimeout(r, 20))
        expect((await request(engine.address().port, 'GET', '/')).body.toString()).toBe('res method req method')
        expect((await request((node.address() as any).port, 'GET', '/')).body.toString()).toBe('res method req method')
        engine.close()
        node.close()
      } finally {
        delete framework.application.extraMethod
        delete framework.request.extraGetter
        delete framework.response.extraSend
      }
    })
  }
})
