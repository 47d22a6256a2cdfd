// res.redirect: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) => res.redirect('/target'))
  app.get('/status', (req: any, res: any) => res.redirect(301, 'http://example.com/'))
  app.get('/303', (req: any, res: any) => res.redirect(303, '/other'))
  app.get('/xss', (req: any, res: any) => res.redirect('<lame>"&\'hi'))
  app.get('/encode', (req: any, res: any) => res.redirect('/snow ☃?q=a b'))
  app.get('/back', (req: any, res: any) => res.redirect('back'))
  app.get('/set-status', (req: any, res: any) => res.status(500).redirect('/x'))
  return app
}

describe('res.redirect', () => {
  differential(build, [
    ['302 with a text/plain body when asked', 'GET', '/', { headers: { accept: 'text/plain' } }, (r) => {
      expect(r.status).toBe(302)
      expect(r.body.toString()).toBe('Found. Redirecting to /target')
    }],
    ['text first without Accept', 'GET', '/', {}, (r) => expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')],
    ['html body', 'GET', '/', { headers: { accept: 'text/html' } }, (r) => expect(r.body.toString()).toBe('<!DOCTYPE html><head><title>Found</title></head><body><p>Found. Redirecting to /target</p></body>')],
    ['empty body for other types', 'GET', '/', { headers: { accept: 'application/json' } }, (r) => expect(r.body.length).toBe(0)],
    ['status argument', 'GET', '/status', {}, (r) => expect(r.status).toBe(301)],
    ['303', 'GET', '/303', { headers: { accept: 'text/plain' } }],
    ['HTML body escaped', 'GET', '/xss', { headers: { accept: 'text/html' } }, (r) => expect(r.body.toString()).not.toContain('<lame>')],
    ['text body with the encoded address', 'GET', '/xss', { headers: { accept: 'text/plain' } }],
    ['Location encoded', 'GET', '/encode'],
    ["'back' is not special in Express 5", 'GET', '/back', { headers: { referer: 'http://example.com/' } }, (r) => expect(r.headers.location).toBe('back')],
    ['res.status() before is ignored: 302', 'GET', '/set-status'],
    ['HEAD: headers and no body', 'HEAD', '/', {}, (r) => {
      expect(r.body.length).toBe(0)
      expect(Number(r.headers['content-length'])).toBeGreaterThan(0)
    }],
  ])
})
