// res.location: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) => res.location('/path/to/somewhere').end())
  app.get('/encode', (req: any, res: any) => res.location('/é space?q=a b&x=%20#frag ment').end())
  app.get('/url', (req: any, res: any) => res.location('https://example.com/ü').end())
  app.get('/back', (req: any, res: any) => res.location('back').end())
  app.get('/chain', (req: any, res: any) => res.status(201).location('/made').send('ok'))
  app.get('/unsafe', (req: any, res: any) => res.location('/a\r\nX-Injected: 1').end())
  return app
}

describe('res.location', () => {
  differential(build, [
    ['sets Location', 'GET', '/', {}, (r) => expect(r.headers.location).toBe('/path/to/somewhere')],
    ['encodes, keeping existing escapes', 'GET', '/encode', {}, (r) => expect(r.headers.location).toBe('/%C3%A9%20space?q=a%20b&x=%20#frag%20ment')],
    ['absolute URL', 'GET', '/url'],
    ["'back' is a literal path in Express 5", 'GET', '/back', { headers: { referer: 'http://example.com/from' } }, (r) => expect(r.headers.location).toBe('back')],
    ['chains', 'GET', '/chain'],
    ['CR LF are encoded, not injected', 'GET', '/unsafe', {}, (r) => expect(r.headers['x-injected']).toBeUndefined()],
  ])
})
