// res.links: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) =>
    res.links({ next: 'http://api.example.com/users?page=2', last: 'http://api.example.com/users?page=5' }).end(),
  )
  app.get('/twice', (req: any, res: any) => res.links({ next: '/2' }).links({ prev: '/0' }).end())
  app.get('/array', (req: any, res: any) => res.links({ pages: ['/1', '/2'], next: '/3' }).end())
  return app
}

describe('res.links', () => {
  differential(build, [
    ['sets Link', 'GET', '/', {}, (r) =>
      expect(r.headers.link).toBe('<http://api.example.com/users?page=2>; rel="next", <http://api.example.com/users?page=5>; rel="last"')],
    ['appends on a second call', 'GET', '/twice', {}, (r) => expect(r.headers.link).toBe('</2>; rel="next", </0>; rel="prev"')],
    ['several links per rel', 'GET', '/array', {}, (r) => expect(r.headers.link).toBe('</1>; rel="pages", </2>; rel="pages", </3>; rel="next"')],
  ])
})
