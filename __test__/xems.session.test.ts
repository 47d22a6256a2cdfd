import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, request, xypriss, type Running } from './helpers'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xems-session-'))
let running: Running
let store: any

beforeAll(async () => {
  store = await xypriss.xems.open({ path: path.join(dir, 'sessions.xem'), secret: randomBytes(32), hardwareId: Buffer.alloc(32, 3) })
  const app = xypriss()
  app.use(xypriss.json())
  app.use(xypriss.xems.session({ store, ttl: 60_000 }))
  app.post('/login', async (req: any, res: any) => {
    await res.xLink({ user: req.body.user, visits: 0 })
    res.json({ ok: true })
  })
  app.get('/me', (req: any, res: any) => {
    if (!req.session) return res.status(401).json({ error: 'no session' })
    req.session.visits++
    res.json(req.session)
  })
  app.post('/logout', (req: any, res: any) => {
    res.xUnlink()
    res.json({ bye: true })
  })
  running = await listen(app)
})
afterAll(async () => {
  await running.close()
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

function tokenFrom(setCookie: string[] | undefined): string {
  const line = (setCookie ?? []).find((c) => c.startsWith('xems_token='))
  return line ? line.split(';')[0].slice('xems_token='.length) : ''
}

describe('xems.session middleware', () => {
  it('links, reads, saves on response end, and unlinks a session', async () => {
    const login = await request(running.port, 'POST', '/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ada' }),
    })
    const token = tokenFrom(login.headers['set-cookie'])
    expect(token.length).toBeGreaterThan(20)
    expect(login.headers['set-cookie']![0]).toMatch(/HttpOnly/)

    const cookie = { cookie: `xems_token=${token}` }
    expect(JSON.parse((await request(running.port, 'GET', '/me', { headers: cookie })).body.toString())).toEqual({ user: 'ada', visits: 1 })
    // the change made by the previous request was saved
    expect(JSON.parse((await request(running.port, 'GET', '/me', { headers: cookie })).body.toString())).toEqual({ user: 'ada', visits: 2 })
    // the header works for API clients too
    expect((await request(running.port, 'GET', '/me', { headers: { 'x-xypriss-token': token } })).status).toBe(200)

    const logout = await request(running.port, 'POST', '/logout', { headers: cookie })
    expect(logout.headers['set-cookie']![0]).toMatch(/^xems_token=;/)
    expect((await request(running.port, 'GET', '/me', { headers: cookie })).status).toBe(401)
  })

  it('treats an unknown token as no session', async () => {
    const reply = await request(running.port, 'GET', '/me', { headers: { cookie: 'xems_token=forged' } })
    expect(reply.status).toBe(401)
  })
})
