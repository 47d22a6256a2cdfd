// res.cookie: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { differentialReplies as differential, onBoth, request, type Reply } from './helpers'

const cookieParser = createRequire(import.meta.url)('cookie-parser')

function build(framework: any) {
  const app = framework()
  app.use('/signed', cookieParser('keyboard cat'))
  app.get('/', (req: any, res: any) => res.cookie('name', 'tobi').end())
  app.get('/object', (req: any, res: any) => res.cookie('user', { name: 'tobi', n: [1] }).end())
  app.get('/number', (req: any, res: any) => res.cookie('n', 42).end())
  app.get('/multiple', (req: any, res: any) => res.cookie('a', '1').cookie('b', '2').end())
  app.get('/append', (req: any, res: any) => res.append('Set-Cookie', 'pre=1').cookie('a', '1').end())
  app.get('/options', (req: any, res: any) =>
    res
      .cookie('opt', 'v', {
        domain: 'example.com',
        path: '/admin',
        httpOnly: true,
        secure: true,
        sameSite: 'strict',
        priority: 'high',
        partitioned: true,
        expires: new Date(Date.UTC(2030, 0, 1)),
      })
      .end(),
  )
  app.get('/samesite/:v', (req: any, res: any) => res.cookie('s', 'v', { sameSite: req.params.v === 'true' ? true : req.params.v }).end())
  app.get('/encode', (req: any, res: any) => res.cookie('e', 'a b;c', { encode: (s: string) => s.replace(/[ ;]/g, '_') }).end())
  app.get('/default-encode', (req: any, res: any) => res.cookie('e', 'a b;c=ü').end())
  app.get('/maxage', (req: any, res: any) => res.cookie('m', 'v', { maxAge: 60_000 }).end())
  app.get('/maxage-string', (req: any, res: any) => res.cookie('m', 'v', { maxAge: '1000' as any }).end())
  app.get('/maxage-nan', (req: any, res: any) => res.cookie('m', 'v', { maxAge: 'soon' as any }).end())
  app.get('/maxage-zero', (req: any, res: any) => res.cookie('m', 'v', { maxAge: 0 }).end())
  app.get('/maxage-null', (req: any, res: any) => res.cookie('m', 'v', { maxAge: null as any }).end())
  app.get('/not-mutated', (req: any, res: any) => {
    const options = { maxAge: 1000 }
    res.cookie('m', 'v', options)
    res.json(options)
  })
  app.get('/signed/', (req: any, res: any) => res.cookie('s', 'value', { signed: true }).cookie('o', { a: 1 }, { signed: true }).end())
  app.get('/signed/read', (req: any, res: any) => res.json({ signed: req.signedCookies, plain: req.cookies }))
  app.get('/unsigned-secret', (req: any, res: any) => {
    try {
      res.cookie('s', 'value', { signed: true })
      res.end('no throw')
    } catch (e: any) {
      res.end(e.message)
    }
  })
  app.get('/bad-name', (req: any, res: any) => {
    try {
      res.cookie('bad name', 'v')
      res.end('no throw')
    } catch (e: any) {
      res.end(e.constructor.name + ': ' + e.message)
    }
  })
  app.use((err: any, req: any, res: any, next: any) => res.status(500).send(err.constructor.name + ': ' + err.message))
  return app
}

const expires = /; Expires=([^;]+)/
function expiresIn(r: Reply, seconds: number) {
  const at = Date.parse(String(r.headers['set-cookie']![0].match(expires)![1]))
  expect(Math.abs(at - (Date.now() + seconds * 1000))).toBeLessThan(3000)
}

describe('res.cookie', () => {
  differential(build, [
    ['name=value; Path=/', 'GET', '/', {}, (r) => expect(r.headers['set-cookie']).toEqual(['name=tobi; Path=/'])],
    ['object as j: JSON', 'GET', '/object', {}, (r) => expect(r.headers['set-cookie']![0]).toMatch(/^user=j%3A/)],
    ['number', 'GET', '/number'],
    ['several cookies', 'GET', '/multiple', {}, (r) => expect(r.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/'])],
    ['appends to an existing Set-Cookie', 'GET', '/append', {}, (r) => expect(r.headers['set-cookie']).toHaveLength(2)],
    ['every option', 'GET', '/options', {}, (r) =>
      expect(r.headers['set-cookie']![0]).toBe('opt=v; Domain=example.com; Path=/admin; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; Secure; Partitioned; Priority=High; SameSite=Strict')],
    ['sameSite true', 'GET', '/samesite/true'],
    ['sameSite lax', 'GET', '/samesite/lax'],
    ['sameSite none', 'GET', '/samesite/none'],
    ['custom encode', 'GET', '/encode'],
    ['default encoding', 'GET', '/default-encode'],
    ['maxAge 0', 'GET', '/maxage-zero'],
    ['maxAge null is ignored', 'GET', '/maxage-null'],
    ['maxAge that is not a number is passed on', 'GET', '/maxage-nan'],
    ['options object is not mutated', 'GET', '/not-mutated'],
    ['signed with req.secret', 'GET', '/signed/', {}, (r) => expect(r.headers['set-cookie']![0]).toMatch(/^s=s%3Avalue\./)],
    ['signed cookies read back by cookie-parser', 'GET', '/signed/read', { headers: { cookie: 's=s%3Avalue.FLj%2B%2F3io792tgVE91QXCZ9qVJOXT1ccM73s3VS2%2BPgQ; o=plain' } }],
    ['signed without a secret throws', 'GET', '/unsigned-secret', {}, (r) => expect(r.body.toString()).toBe('cookieParser("secret") required for signed cookies')],
    ['invalid name throws', 'GET', '/bad-name', {}, (r) => expect(r.body.toString()).toMatch(/^TypeError/)],
  ])

  // Expires is computed from Date.now(): compared within a tolerance, the rest byte for byte.
  const both = onBoth(build)
  for (const [path, seconds] of [['/maxage', 60], ['/maxage-string', 1]] as const) {
    it(`maxAge → Max-Age and Expires (${path})`, async () => {
      const a = await request(both.express.port, 'GET', path)
      const b = await request(both.xypriss.port, 'GET', path)
      const strip = (r: Reply) => r.headers['set-cookie']![0].replace(expires, '; Expires=*')
      expect(strip(b)).toBe(strip(a))
      expect(strip(b)).toBe(`m=v; Max-Age=${seconds}; Path=/; Expires=*`)
      expiresIn(b, seconds)
    })
  }
})
