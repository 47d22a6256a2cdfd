import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, request, xypriss, type Reply, type Running } from './helpers'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xems-session-'))
let counter = 0
const opened: any[] = []
const running: Running[] = []

async function openStore() {
  const store = await xypriss.xems.open({ path: path.join(dir, `s${counter++}.xem`), secret: randomBytes(32), hardwareId: Buffer.alloc(32, 3) })
  opened.push(store)
  return store
}

/** An app with login, a session read-and-count route, a slow one, and logout. */
async function start(sessionOptions: Record<string, unknown>, setup?: (app: any) => void) {
  const store = await openStore()
  const app = xypriss()
  setup?.(app)
  app.use(xypriss.json())
  app.use(xypriss.xems.session({ store, ttl: 60_000, ...sessionOptions }))
  app.post('/login', async (req: any, res: any) => {
    await res.xLink({ user: req.body?.user ?? 'ada', visits: 0 })
    res.json({ ok: true })
  })
  app.get('/me', (req: any, res: any) => {
    if (!req.session) return res.status(401).json({ error: 'no session' })
    req.session.visits++
    res.json(req.session)
  })
  app.get('/slow', (req: any, res: any) => {
    if (!req.session) return res.status(401).json({ error: 'no session' })
    setTimeout(() => {
      req.session.slow = true
      res.json(req.session)
    }, Number(req.query.ms))
  })
  app.post('/logout', (req: any, res: any) => {
    res.xUnlink()
    res.json({ bye: true })
  })
  const server = await listen(app)
  running.push(server)
  return { store, port: server.port }
}

afterAll(async () => {
  for (const r of running) await r.close()
  for (const s of opened) await s.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

function sessionCookie(reply: Reply, name = 'xems_token'): string | undefined {
  return (reply.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`))
}

function tokenFrom(reply: Reply, name = 'xems_token'): string {
  const line = sessionCookie(reply, name)
  return line ? line.split(';')[0].slice(name.length + 1) : ''
}

const withCookie = (token: string, extra: Record<string, string> = {}) => ({ headers: { cookie: `xems_token=${token}`, ...extra } })
const json = (reply: Reply) => JSON.parse(reply.body.toString())
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('xems.session middleware', () => {
  let port: number
  beforeAll(async () => {
    ;({ port } = await start({}))
  })

  it('links, reads, saves on response end, and unlinks a session', async () => {
    const login = await request(port, 'POST', '/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ada' }),
    })
    const token = tokenFrom(login)
    expect(token.length).toBeGreaterThan(20)

    expect(json(await request(port, 'GET', '/me', withCookie(token)))).toEqual({ user: 'ada', visits: 1 })
    // the change made by the previous request was saved
    expect(json(await request(port, 'GET', '/me', withCookie(token)))).toEqual({ user: 'ada', visits: 2 })

    const logout = await request(port, 'POST', '/logout', withCookie(token))
    expect(sessionCookie(logout)).toMatch(/^xems_token=;/)
    expect((await request(port, 'GET', '/me', withCookie(token))).status).toBe(401)
  })

  it('treats an unknown token as no session', async () => {
    expect((await request(port, 'GET', '/me', { headers: { cookie: 'xems_token=forged' } })).status).toBe(401)
  })
})

describe('xems.session token transport', () => {
  it('ignores the token in a request header unless headerName is set, and never sends it in one', async () => {
    const { port } = await start({})
    const login = await request(port, 'POST', '/login')
    const token = tokenFrom(login)
    expect(login.headers['x-xypriss-token']).toBeUndefined()
    expect((await request(port, 'GET', '/me', { headers: { 'x-xypriss-token': token } })).status).toBe(401)
    expect((await request(port, 'GET', '/me', withCookie(token))).status).toBe(200)
  })

  it('accepts and returns the token in the header named by headerName', async () => {
    const { port } = await start({ headerName: 'X-Api-Token' })
    const login = await request(port, 'POST', '/login')
    const token = login.headers['x-api-token'] as string
    expect(token).toBe(tokenFrom(login))
    expect(json(await request(port, 'GET', '/me', { headers: { 'x-api-token': token } }))).toEqual({ user: 'ada', visits: 1 })
    expect((await request(port, 'GET', '/me', { headers: { 'x-xypriss-token': token } })).status).toBe(401)
  })

  it('sets an HttpOnly, SameSite=Lax cookie without Secure over plain HTTP', async () => {
    const { port } = await start({})
    const line = sessionCookie(await request(port, 'POST', '/login'))!
    expect(line).toMatch(/; HttpOnly/)
    expect(line).toMatch(/; SameSite=Lax/)
    expect(line).toMatch(/; Path=\//)
    expect(line).not.toMatch(/; Secure/)
  })

  it('adds Secure when the request is secure behind a trusted proxy, as req.secure says', async () => {
    const { port } = await start({}, (app) => app.set('trust proxy', 'loopback'))
    const secure = await request(port, 'POST', '/login', { headers: { 'x-forwarded-proto': 'https' } })
    expect(sessionCookie(secure)).toMatch(/; Secure/)
    const plain = await request(port, 'POST', '/login', { headers: { 'x-forwarded-proto': 'http' } })
    expect(sessionCookie(plain)).not.toMatch(/; Secure/)
    // Logging out over HTTPS clears the cookie with the same attributes.
    const token = tokenFrom(secure)
    const logout = await request(port, 'POST', '/logout', withCookie(token, { 'x-forwarded-proto': 'https' }))
    expect(sessionCookie(logout)).toMatch(/^xems_token=;.*; HttpOnly.*; Secure/)
  })

  it('does not trust X-Forwarded-Proto from an untrusted peer', async () => {
    const { port } = await start({})
    const reply = await request(port, 'POST', '/login', { headers: { 'x-forwarded-proto': 'https' } })
    expect(sessionCookie(reply)).not.toMatch(/; Secure/)
  })

  it('honours cookie.secure true and false, and refuses to make the cookie readable by scripts', async () => {
    const always = await start({ cookie: { secure: true, sameSite: 'strict' } })
    const line = sessionCookie(await request(always.port, 'POST', '/login'))!
    expect(line).toMatch(/; Secure/)
    expect(line).toMatch(/; SameSite=Strict/)
    expect(line).toMatch(/; HttpOnly/)
    const never = await start({ cookie: { secure: false } }, (app) => app.set('trust proxy', true))
    expect(sessionCookie(await request(never.port, 'POST', '/login', { headers: { 'x-forwarded-proto': 'https' } }))).not.toMatch(/; Secure/)
    const store = await openStore()
    expect(() => xypriss.xems.session({ store, cookie: { httpOnly: false } })).toThrow(/HttpOnly/)
    expect(() => xypriss.xems.session({ store, cookie: { secure: 'yes' } })).toThrow(/secure/)
  })
})

describe('xems.session rotation races', () => {
  // Generous: a stale request must start within it even on a loaded machine.
  const grace = 1500

  async function login(port: number) {
    return tokenFrom(await request(port, 'POST', '/login'))
  }

  it('two requests with the same token at once: one session, and the old token dies after the grace', async () => {
    const { port, store } = await start({ autoRotation: true, gracePeriod: grace })
    const t0 = await login(port)
    const [a, b] = await Promise.all([
      request(port, 'GET', '/me', withCookie(t0)),
      request(port, 'GET', '/slow?ms=50', withCookie(t0)),
    ])
    expect([a.status, b.status]).toEqual([200, 200])
    // Exactly one of them moved the session to a new token; the other kept using t0.
    const issued = [tokenFrom(a), tokenFrom(b)].filter((t) => t !== '')
    expect(issued.length).toBe(1)
    expect(store.stats().liveRecords).toBe(1)
    await sleep(grace + 300)
    expect((await request(port, 'GET', '/me', withCookie(t0))).status).toBe(401)
    const me = await request(port, 'GET', '/me', withCookie(issued[0]))
    expect(me.status).toBe(200)
    expect(json(me).user).toBe('ada')
    expect(store.stats().liveRecords).toBe(1)
  })

  it('a slow request saving under a token rotated away before it finished does not revive it', async () => {
    const { port, store } = await start({ autoRotation: true, gracePeriod: grace })
    const t0 = await login(port)
    const rotated = await request(port, 'GET', '/me', withCookie(t0))
    const t1 = tokenFrom(rotated)
    expect(t1).not.toBe('')
    expect(t1).not.toBe(t0)
    // Starts within the grace period (t0 still resolves), saves after it.
    const slow = await request(port, 'GET', `/slow?ms=${grace + 500}`, withCookie(t0))
    expect(slow.status).toBe(200)
    expect((await request(port, 'GET', '/me', withCookie(t0))).status).toBe(401)
    expect(store.stats().liveRecords).toBe(1)
    expect((await request(port, 'GET', '/me', withCookie(t1))).status).toBe(200)
  })

  it('a stale request within the grace saves into the current session, never a copy', async () => {
    const { port, store } = await start({ autoRotation: true, gracePeriod: grace })
    const t0 = await login(port)
    const t1 = tokenFrom(await request(port, 'GET', '/me', withCookie(t0)))
    const stale = await request(port, 'GET', '/slow?ms=10', withCookie(t0))
    expect(json(stale)).toMatchObject({ slow: true })
    expect(store.stats().liveRecords).toBe(1)
    await sleep(grace + 300)
    expect((await request(port, 'GET', '/me', withCookie(t0))).status).toBe(401)
    expect(json(await request(port, 'GET', '/me', withCookie(t1)))).toMatchObject({ slow: true })
  })

  it('logging out with a token rotated away within the grace ends the session', async () => {
    const { port } = await start({ autoRotation: true, gracePeriod: 5_000 })
    const t0 = await login(port)
    const t1 = tokenFrom(await request(port, 'GET', '/me', withCookie(t0)))
    expect((await request(port, 'POST', '/logout', withCookie(t0))).status).toBe(200)
    expect((await request(port, 'GET', '/me', withCookie(t1))).status).toBe(401)
    expect((await request(port, 'GET', '/me', withCookie(t0))).status).toBe(401)
  })
})
