// res.format: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) =>
    res.format({
      'text/plain': () => res.send('plain'),
      'text/html': () => res.send('<p>html</p>'),
      'application/json': () => res.send({ json: true }),
    }),
  )
  app.get('/ext', (req: any, res: any) =>
    res.format({
      text: () => res.send('plain'),
      html: (rq: any, rs: any, next: any) => rs.send(typeof next + ' ' + (rq === req) + ' ' + (rs === res)),
      json: () => res.json({ json: true }),
    }),
  )
  app.get('/default', (req: any, res: any) =>
    res.format({
      json: () => res.json({ json: true }),
      default: () => res.status(406).send('fallback'),
    }),
  )
  app.get('/only-default', (req: any, res: any) => res.format({ default: () => res.send('default only') }))
  app.get('/params', (req: any, res: any) => res.format({ 'text/plain; charset=iso-8859-1': () => res.end('p') }))
  app.get('/vary', (req: any, res: any) => res.vary('Origin').format({ text: () => res.send('t') }))
  app.use((err: any, req: any, res: any, next: any) => res.status(err.status).json({ name: err.name, message: err.message, types: err.types, expose: err.expose }))
  return app
}

describe('res.format', () => {
  differential(build, [
    ['no Accept: first type', 'GET', '/'],
    ['exact type', 'GET', '/', { headers: { accept: 'application/json' } }],
    ['quality order', 'GET', '/', { headers: { accept: 'text/plain;q=0.5, text/html' } }],
    ['wildcard', 'GET', '/', { headers: { accept: 'text/*' } }],
    ['extensions as keys', 'GET', '/ext', { headers: { accept: 'application/json' } }],
    ['handler gets req, res, next', 'GET', '/ext', { headers: { accept: 'text/html' } }, (r) => expect(r.body.toString()).toBe('function true true')],
    ['406 error to next with the types', 'GET', '/ext', { headers: { accept: 'image/png' } }, (r) => {
      expect(r.status).toBe(406)
      expect(JSON.parse(r.body.toString())).toEqual({ name: 'NotAcceptableError', message: 'Not Acceptable', types: ['text/plain', 'text/html', 'application/json'], expose: true })
    }],
    ['default handler', 'GET', '/default', { headers: { accept: 'image/png' } }],
    ['only a default', 'GET', '/only-default', { headers: { accept: 'text/html' } }],
    ['type parameters dropped from Content-Type', 'GET', '/params'],
    ['Vary: Accept appended', 'GET', '/vary', {}, (r) => expect(r.headers.vary).toBe('Origin, Accept')],
  ])
})
