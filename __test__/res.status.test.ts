// res.status: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/ok/:code', (req: any, res: any) => res.status(Number(req.params.code)).end('x'))
  app.get('/bad', (req: any, res: any) => {
    const out: string[] = []
    for (const code of [99, 1000, 200.5, '200', null, undefined, NaN, Infinity]) {
      try {
        res.status(code)
        out.push('accepted ' + String(code))
      } catch (e: any) {
        out.push(e.constructor.name + ': ' + e.message)
      }
    }
    res.status(200).send(out.join('\n'))
  })
  return app
}

describe('res.status', () => {
  differential(build, [
    ['sets the code', 'GET', '/ok/201', {}, (r) => expect(r.status).toBe(201)],
    ['100..999 accepted', 'GET', '/ok/999'],
    ['invalid codes throw Express 5 errors', 'GET', '/bad', {}, (r) => expect(r.body.toString()).not.toContain('accepted')],
  ])
})
