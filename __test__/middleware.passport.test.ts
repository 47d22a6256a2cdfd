// passport + passport-local with express-session on express@5 and on xypriss: log in, then an authenticated GET.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const session = require('express-session')
const { Passport } = require('passport')
const { Strategy: LocalStrategy } = require('passport-local')

const users = [{ id: 1, username: 'alice', password: 'wonderland' }]

function build(framework: any) {
  const passport = new Passport()
  passport.use(
    new LocalStrategy((username: string, password: string, done: any) => {
      const user = users.find((u) => u.username === username)
      done(null, user && user.password === password ? user : false)
    }),
  )
  passport.serializeUser((user: any, done: any) => done(null, user.id))
  passport.deserializeUser((id: number, done: any) => done(null, users.find((u) => u.id === id) ?? false))

  const app = framework()
  app.use(framework.urlencoded({ extended: false }))
  app.use(session({ secret: 'sekrit', resave: false, saveUninitialized: false }))
  app.use(passport.initialize())
  app.use(passport.session())
  app.post('/login', passport.authenticate('local'), (req: any, res: any) => res.json({ user: req.user.username }))
  app.get('/me', (req: any, res: any) => (req.isAuthenticated() ? res.json({ me: req.user.username }) : res.status(401).json({ me: null })))
  app.post('/logout', (req: any, res: any, next: any) => req.logout((err: any) => (err ? next(err) : res.send('out'))))
  return app
}

const form = { 'content-type': 'application/x-www-form-urlencoded' }

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`passport-local on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('POST /login sets a session cookie that authenticates GET /me, until logout', async () => {
      expect((await request(server.port, 'GET', '/me')).status).toBe(401)
      const login = await request(server.port, 'POST', '/login', { headers: form, body: 'username=alice&password=wonderland' })
      expect(login.status).toBe(200)
      expect(JSON.parse(login.body.toString())).toEqual({ user: 'alice' })
      const cookie = String((login.headers['set-cookie'] ?? [])[0] ?? '').split(';')[0]
      expect(cookie).toMatch(/^connect\.sid=s%3A/)
      const me = await request(server.port, 'GET', '/me', { headers: { cookie } })
      expect(me.status).toBe(200)
      expect(JSON.parse(me.body.toString())).toEqual({ me: 'alice' })
      expect((await request(server.port, 'POST', '/logout', { headers: { cookie } })).body.toString()).toBe('out')
      expect((await request(server.port, 'GET', '/me', { headers: { cookie } })).status).toBe(401)
    })

    it('a wrong password gets 401 and no session', async () => {
      const r = await request(server.port, 'POST', '/login', { headers: form, body: 'username=alice&password=nope' })
      expect(r.status).toBe(401)
      expect(r.body.toString()).toBe('Unauthorized')
      expect(r.headers['set-cookie']).toBeUndefined()
    })
  })
}
