// res.sendStatus: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/:code', (req: any, res: any) => res.sendStatus(Number(req.params.code)))
  app.get('/bad/:code', (req: any, res: any) => {
    try {
      res.sendStatus(Number(req.params.code))
    } catch (e: any) {
      res.status(500).send(e.constructor.name + ': ' + e.message)
    }
  })
  return app
}

describe('res.sendStatus', () => {
  differential(build, [
    ['200', 'GET', '/200', {}, (r) => expect(r.body.toString()).toBe('OK')],
    ['201', 'GET', '/201'],
    ['204 has no body', 'GET', '/204'],
    ['404', 'GET', '/404'],
    ['418 message from statuses', 'GET', '/418'],
    ['425', 'GET', '/425'],
    ['unknown code: the number', 'GET', '/599', {}, (r) => expect(r.body.toString()).toBe('599')],
    ['HEAD', 'HEAD', '/500'],
    ['out of range throws RangeError', 'GET', '/bad/1000'],
    ['non-integer throws TypeError', 'GET', '/bad/200.5', {}, (r) => expect(r.body.toString()).toMatch(/^TypeError: Invalid status code: 200.5/)],
  ])
})
