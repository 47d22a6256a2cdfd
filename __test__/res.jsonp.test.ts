// res.jsonp: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) => res.jsonp({ count: 1 }))
  app.get('/null', (req: any, res: any) => res.jsonp(null))
  app.get('/undef', (req: any, res: any) => res.jsonp(undefined))
  app.get('/str', (req: any, res: any) => res.jsonp('line\u2028sep\u2029end'))
  app.get('/typed', (req: any, res: any) => res.type('text/x-custom').jsonp({ a: 1 }))
  app.get('/status', (req: any, res: any) => res.status(201).jsonp({ made: true }))
  const custom = framework()
  custom.set('jsonp callback name', 'cb')
  custom.set('json spaces', 2)
  custom.set('json escape', true)
  custom.get('/', (req: any, res: any) => res.jsonp({ html: '<b>&</b>' }))
  app.use('/custom', custom)
  return app
}

describe('res.jsonp', () => {
  differential(build, [
    ['plain JSON without a callback', 'GET', '/'],
    ['wraps in the callback', 'GET', '/?callback=something', {}, (r) => {
      expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8')
      expect(r.body.toString()).toBe('/**/ typeof something === \'function\' && something({"count":1});')
    }],
    ['strips unsafe callback characters', 'GET', '/?callback=foo;bar()%3Cx%3E[0].$y!'],
    ['first of repeated callbacks', 'GET', '/?callback=one&callback=two'],
    ['empty callback is ignored', 'GET', '/?callback='],
    ['null body', 'GET', '/null?callback=cb'],
    ['undefined body', 'GET', '/undef?callback=cb'],
    ['escapes U+2028 and U+2029', 'GET', '/str?callback=cb', {}, (r) => expect(r.body.toString()).toContain('\\u2028')],
    ['keeps a Content-Type set before', 'GET', '/typed'],
    ['keeps the status', 'GET', '/status?callback=cb'],
    ['callback name, spaces and escape settings', 'GET', '/custom?cb=fn&callback=ignored'],
    ['HEAD', 'HEAD', '/?callback=cb'],
  ])
})
