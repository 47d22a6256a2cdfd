import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listen, request, xypriss, type Running } from './helpers'

let running: Running

beforeAll(async () => {
  const app = xypriss()
  app.get('/throw', () => {
    throw new Error('boom')
  })
  app.get('/reject', async () => {
    throw Object.assign(new Error('nope'), { status: 418 })
  })
  app.get('/next-error', (req: any, res: any, next: any) => next(new Error('passed')))
  app.get('/ok', (req: any, res: any) => res.send('ok'))
  app.use((err: any, req: any, res: any, next: any) => {
    if (req.path === '/next-error') return res.status(502).json({ handled: err.message })
    next(err)
  })
  running = await listen(app)
})
afterAll(() => running.close())

describe('handlers that fail', () => {
  it('turns a throwing handler into a 500 and lives on', async () => {
    const reply = await request(running.port, 'GET', '/throw')
    expect(reply.status).toBe(500)
    expect(reply.body.toString()).toContain('Error: boom')
    expect((await request(running.port, 'GET', '/ok')).body.toString()).toBe('ok')
  })

  it('turns a rejecting async handler into its error status', async () => {
    const reply = await request(running.port, 'GET', '/reject')
    expect(reply.status).toBe(418)
    expect((await request(running.port, 'GET', '/ok')).status).toBe(200)
  })

  it('routes next(err) to error middleware', async () => {
    const reply = await request(running.port, 'GET', '/next-error')
    expect(reply.status).toBe(502)
    expect(JSON.parse(reply.body.toString())).toEqual({ handled: 'passed' })
  })
})
