// res.locals: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.locals.site = 'app'
  app.use((req: any, res: any, next: any) => {
    res.locals.user = 'tobi'
    next()
  })
  app.get('/', (req: any, res: any) =>
    res.json({ locals: { ...res.locals }, proto: Object.getPrototypeOf(res.locals), fresh: res.locals !== app.locals }),
  )
  return app
}

describe('res.locals', () => {
  differential(build, [
    ['per request, null prototype, not app.locals', 'GET', '/', {}, (r) =>
      expect(JSON.parse(r.body.toString())).toEqual({ locals: { user: 'tobi' }, proto: null, fresh: true })],
    ['not shared between requests', 'GET', '/'],
  ])
})
