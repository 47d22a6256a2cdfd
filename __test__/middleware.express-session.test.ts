// express-session with MemoryStore on express@5 and on xypriss: the session persists through its cookie.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const session = require('express-session')

function build(framework: any) {
  const app = framework()
  app.use(session({ secret: 'sekrit', resave: false, saveUninitialized: false, store: new session.MemoryStore(), cookie: { maxAge: 60_000 } }))
  app.get('/count', (req: any, res: any) => {
    req.session.n = (req.session.n ?? 0) + 1
    res.json({ n: req.session.n, id: req.sessionID })
  })
  app.get('/peek', (req: any, res: any) => res.json({ n: req.session.n ?? null }))
  app.post('/logout', (req: any, res: any, next: any) => req.session.destroy((err: any) => (err ? next(err) : res.send('bye'))))
  return app
}

function sid(setCookie: string[] | undefined): string {
  const header = (setCookie ?? []).find((c) => c.startsWith('connect.sid='))
  expect(header).toBeDefined()
  expect(header).toMatch(/; Path=\/; Expires=.+; HttpOnly/)
  return header!.split(';')[0]
}

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`express-session on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('sets connect.sid and keeps the session across requests', async () => {
      const first = await request(server.port, 'GET', '/count')
      expect(JSON.parse(first.body.toString()).n).toBe(1)
      const cookie = sid(first.headers['set-cookie'])
      const second = await request(server.port, 'GET', '/count', { headers: { cookie } })
      const third = await request(server.port, 'GET', '/count', { headers: { cookie } })
      expect(JSON.parse(second.body.toString()).n).toBe(2)
      expect(JSON.parse(third.body.toString())).toEqual({ n: 3, id: JSON.parse(first.body.toString()).id })
      // an unmodified session with a rolling=false cookie is not re-sent
      const peek = await request(server.port, 'GET', '/peek', { headers: { cookie } })
      expect(JSON.parse(peek.body.toString())).toEqual({ n: 3 })
      expect(peek.headers['set-cookie']).toBeUndefined()
    })

    it('does not set a cookie for an uninitialized session, and forgets a destroyed one', async () => {
      const anon = await request(server.port, 'GET', '/peek')
      expect(anon.headers['set-cookie']).toBeUndefined()
      const first = await request(server.port, 'GET', '/count')
      const cookie = sid(first.headers['set-cookie'])
      expect((await request(server.port, 'POST', '/logout', { headers: { cookie } })).body.toString()).toBe('bye')
      const after = await request(server.port, 'GET', '/peek', { headers: { cookie } })
      expect(JSON.parse(after.body.toString())).toEqual({ n: null })
    })

    it('ignores a cookie with a forged signature', async () => {
      const r = await request(server.port, 'GET', '/count', { headers: { cookie: 'connect.sid=s%3Aforged.bad' } })
      expect(JSON.parse(r.body.toString()).n).toBe(1)
    })
  })
}
