// The XyPriss API: createServer(options) on the same engine.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { request, xypriss } from './helpers'

describe('createServer (XyPriss API)', () => {
  it('starts on the configured host, reports its port and parses JSON bodies', async () => {
    const app = xypriss.createServer({ server: { host: '127.0.0.1', port: 0 } })
    app.post('/echo', (req: any, res: any) => res.json({ got: req.body }))
    const server = await new Promise<any>((resolve) => app.start(resolve))
    const port = app.getPort()
    expect(port).toBe(server.address().port)
    const reply = await request(port, 'POST', '/echo', { headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    expect(JSON.parse(reply.body.toString())).toEqual({ got: { a: 1 } })
    await new Promise((r) => server.close(r))
  })

  it('honours jsonLimit', async () => {
    const app = xypriss.createServer({ server: { host: '127.0.0.1', jsonLimit: 10 } })
    app.post('/echo', (req: any, res: any) => res.json(req.body))
    const server = await new Promise<any>((resolve) => app.start(resolve))
    const reply = await request(app.getPort(), 'POST', '/echo', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ long: 'x'.repeat(50) }) })
    expect(reply.status).toBe(413)
    await new Promise((r) => server.close(r))
  })

  it('wires XEMS sessions from options.xems', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-create-'))
    const app = xypriss.createServer({
      server: { host: '127.0.0.1' },
      xems: { path: path.join(dir, 's.xem'), secret: randomBytes(32), hardwareBound: false, cookieName: 'sid' },
    })
    app.post('/login', async (req: any, res: any) => res.json({ token: await res.xLink({ user: req.body.user }) }))
    app.get('/me', (req: any, res: any) => res.json(req.session ?? null))
    const server = await new Promise<any>((resolve) => app.start(resolve))
    const login = await request(app.getPort(), 'POST', '/login', { headers: { 'content-type': 'application/json' }, body: '{"user":"lin"}' })
    const { token } = JSON.parse(login.body.toString())
    expect(login.headers['set-cookie']![0]).toMatch(/^sid=/)
    const me = await request(app.getPort(), 'GET', '/me', { headers: { cookie: `sid=${token}` } })
    expect(JSON.parse(me.body.toString())).toEqual({ user: 'lin' })
    await new Promise((r) => server.close(r))
    await (await app.xems).close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
