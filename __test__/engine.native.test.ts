// What the engine answers without waking JS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { differentialReplies, listen, request, xypriss, type Running } from './helpers'

let running: Running

beforeAll(async () => {
  const app = xypriss()
  app.get('/known/:id', (req: any, res: any) => res.send(req.params.id))
  app.use('/mounted', (req: any, res: any) => res.send('mounted:' + req.url))
  running = await listen(app)
})
afterAll(() => running.close())

const handled = () => xypriss.engineStats().requests

describe('native answers', () => {
  it('answers a path nothing can match with the 404 page, without dispatching to JS', async () => {
    const before = handled()
    const reply = await request(running.port, 'GET', '/unknown/x?y=1')
    expect(reply.status).toBe(404)
    expect(reply.body.toString()).toContain('<pre>Cannot GET /unknown/x</pre>')
    expect(handled()).toBe(before)
  })

  it('still dispatches paths a route or middleware can match', async () => {
    const before = handled()
    expect((await request(running.port, 'GET', '/known/5')).body.toString()).toBe('5')
    expect((await request(running.port, 'GET', '/mounted/deep/er')).body.toString()).toBe('mounted:/deep/er')
    expect(handled()).toBe(before + 2)
  })

  it('answers a route path with another method as Express does, without dispatching to JS', async () => {
    const before = handled()
    // only routes of other methods match: the router runs none of them (Express's 404)
    const post = await request(running.port, 'POST', '/known/5')
    expect([post.status, post.body.toString()]).toEqual([404, expect.stringContaining('<pre>Cannot POST /known/5</pre>')])
    // automatic OPTIONS: the methods of the matching routes
    const options = await request(running.port, 'OPTIONS', '/known/5')
    expect([options.status, options.headers.allow, options.body.toString()]).toEqual([200, 'GET, HEAD', 'GET, HEAD'])
    expect(handled()).toBe(before)
    // a parameter JS would decode (a bad escape is Express's 400) goes to JS
    expect((await request(running.port, 'POST', '/known/%zz')).status).toBe(400)
    expect(handled()).toBe(before + 1)
  })

  it('answers HEAD where only routes of other methods match and no app.param callback can run', async () => {
    const app = xypriss()
    app.post('/form', (req: any, res: any) => res.send('posted'))
    app.post('/items/:id', (req: any, res: any) => res.send('posted'))
    app.param('id', (req: any, res: any, next: any, id: string) => {
      res.setHeader('X-Param', id)
      next()
    })
    const r = await listen(app)
    try {
      const before = handled()
      const head = await request(r.port, 'HEAD', '/form')
      // the page's length, without its body
      expect([head.status, head.headers['content-length'], head.body.length]).toEqual([404, String('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot HEAD /form</pre>\n</body>\n</html>\n'.length), 0])
      expect(handled()).toBe(before)
      // router@2 matches a HEAD against routes that do not handle it, running app.param callbacks
      const withParam = await request(r.port, 'HEAD', '/items/7')
      expect([withParam.status, withParam.headers['x-param']]).toEqual([404, '7'])
      expect(handled()).toBe(before + 1)
    } finally {
      await r.close()
    }
  })

  differentialReplies(
    (framework: any) => {
      const app = framework()
      // error pages without stack traces, which differ between the two
      app.set('env', 'production')
      app.get('/a/:id', (req: any, res: any) => res.send('a'))
      app.put('/a/:id', (req: any, res: any) => res.send('a'))
      app.delete('/b', (req: any, res: any) => res.send('b'))
      app.post('/c', (req: any, res: any) => res.send('c'))
      app.options('/c', (req: any, res: any) => res.send('own options'))
      return app
    },
    [
      ['OPTIONS over GET and PUT routes', 'OPTIONS', '/a/1'],
      ['OPTIONS over a DELETE route', 'OPTIONS', '/b'],
      ['OPTIONS a route answers itself', 'OPTIONS', '/c'],
      ['PATCH over other methods', 'PATCH', '/a/1'],
      ['HEAD over a DELETE route', 'HEAD', '/b'],
      ['a bad escape in a parameter', 'PATCH', '/a/%zz'],
      ['an unknown method', 'PROPFIND', '/b'],
    ],
  )

  it('follows routes added after listen()', async () => {
    const app = xypriss()
    const late = await listen(app)
    expect((await request(late.port, 'GET', '/later')).status).toBe(404)
    app.get('/later', (req: any, res: any) => res.send('here'))
    expect((await request(late.port, 'GET', '/later')).body.toString()).toBe('here')
    await late.close()
  })

  // Regression: the mirror once sent app.use(fn)'s '/' as ['/'], which matches only '/', so the
  // engine answered 404 before root middleware (helmet, morgan, static) could see the request.
  it('lets root middleware see every path', async () => {
    const app = xypriss()
    app.use((req: any, res: any, next: any) => {
      res.setHeader('X-Seen', req.path)
      next()
    })
    app.use(['/'], (req: any, res: any) => res.send('array root'))
    const root = await listen(app)
    const deep = await request(root.port, 'GET', '/deep/unknown')
    expect(deep.status).toBe(404)
    expect(deep.headers['x-seen']).toBe('/deep/unknown')
    expect((await request(root.port, 'GET', '/')).body.toString()).toBe('array root')
    await root.close()
  })

  it('hands JS the matching layers so the router skips the rest of the stack', async () => {
    const app = xypriss()
    for (let i = 0; i < 200; i++) app.get(`/route${i}`, (req: any, res: any) => res.send(`route ${i}`))
    const visited: number[] = []
    app.router.stack.forEach((layer: any, index: number) => {
      const match = layer.match.bind(layer)
      layer.match = (path: string) => {
        visited.push(index)
        return match(path)
      }
    })
    const many = await listen(app)
    expect((await request(many.port, 'GET', '/route199')).body.toString()).toBe('route 199')
    expect(visited).toEqual([199])
    // a layer added later is routed too (the mirror follows, stale matches are ignored)
    app.get('/late', (req: any, res: any) => res.send('late'))
    expect((await request(many.port, 'GET', '/late')).body.toString()).toBe('late')
    await many.close()
  })

  it('falls back to scanning the stack when middleware rewrites req.url', async () => {
    const app = xypriss()
    app.use((req: any, res: any, next: any) => {
      if (req.url === '/old') req.url = '/new'
      next()
    })
    app.get('/old', (req: any, res: any) => res.send('old'))
    app.get('/new', (req: any, res: any) => res.send('new'))
    const rewriting = await listen(app)
    expect((await request(rewriting.port, 'GET', '/old')).body.toString()).toBe('new')
    await rewriting.close()
  })

  it('honours x-powered-by for native answers', async () => {
    const app = xypriss()
    app.disable('x-powered-by')
    const quiet = await listen(app)
    const reply = await request(quiet.port, 'GET', '/nothing')
    expect(reply.status).toBe(404)
    expect(reply.headers['x-powered-by']).toBeUndefined()
    await quiet.close()
  })
})

// The page comes from lib/ (the engine knows nothing of Express): the same bytes as Express's
// finalhandler sends, X-Powered-By included or not as the setting says.
for (const poweredBy of [true, false]) {
  describe(`the native 404 is Express's byte for byte (x-powered-by ${poweredBy ? 'on' : 'off'})`, () => {
    differentialReplies(
      (framework) => {
        const app = framework()
        if (!poweredBy) app.disable('x-powered-by')
        app.get('/known', (req: any, res: any) => res.send('known'))
        return app
      },
      [
        ['GET of an unknown path', 'GET', '/missing?q=1'],
        ['a path to percent-encode and escape', 'GET', `/a<b>/'&"/%zz/%41/\u00e9`],
        ['HEAD', 'HEAD', '/missing'],
        ['a method Express has no route for', 'PROPFIND', '/missing'],
        ['a POST with a body', 'POST', '/missing', { headers: { 'content-type': 'text/plain' }, body: 'hello' }],
      ],
    )
  })
}
