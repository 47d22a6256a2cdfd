// res.clearCookie: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) => res.clearCookie('sid').end())
  app.get('/path', (req: any, res: any) => res.clearCookie('sid', { path: '/admin', domain: 'example.com', httpOnly: true }).end())
  app.get('/maxage', (req: any, res: any) => res.clearCookie('sid', { maxAge: 60_000 }).end())
  app.get('/expires', (req: any, res: any) => res.clearCookie('sid', { expires: new Date(Date.UTC(2030, 0, 1)) }).end())
  app.get('/signed', (req: any, res: any) => {
    req.secret = 'sekrit'
    res.clearCookie('sid', { signed: true }).end()
  })
  return app
}

describe('res.clearCookie', () => {
  differential(build, [
    ['expires in 1970, Path=/', 'GET', '/', {}, (r) => expect(r.headers['set-cookie']).toEqual(['sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT'])],
    ['keeps path, domain and flags', 'GET', '/path'],
    ['maxAge is dropped', 'GET', '/maxage', {}, (r) => expect(r.headers['set-cookie']![0]).not.toContain('Max-Age')],
    ['expires cannot be overridden', 'GET', '/expires', {}, (r) => expect(r.headers['set-cookie']![0]).toContain('1970')],
    ['signed clears with a signed empty value', 'GET', '/signed'],
  ])
})
