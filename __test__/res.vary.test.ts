// res.vary: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/one', (req: any, res: any) => res.vary('Origin').end())
  app.get('/many', (req: any, res: any) => res.vary(['Accept', 'Accept-Encoding']).vary('accept').end())
  app.get('/append', (req: any, res: any) => res.set('Vary', 'Cookie').vary('Origin').end())
  app.get('/star', (req: any, res: any) => res.vary('*').vary('Origin').end())
  app.get('/empty', (req: any, res: any) => res.vary([]).end())
  app.get('/bad', (req: any, res: any) => {
    try {
      res.vary('bad header')
      res.end('no throw')
    } catch (e: any) {
      res.end(e.constructor.name + ': ' + e.message)
    }
  })
  return app
}

describe('res.vary', () => {
  differential(build, [
    ['one field', 'GET', '/one', {}, (r) => expect(r.headers.vary).toBe('Origin')],
    ['list, no duplicates in any case', 'GET', '/many', {}, (r) => expect(r.headers.vary).toBe('Accept, Accept-Encoding')],
    ['appends to an existing Vary', 'GET', '/append', {}, (r) => expect(r.headers.vary).toBe('Cookie, Origin')],
    ['* absorbs the rest', 'GET', '/star', {}, (r) => expect(r.headers.vary).toBe('*')],
    ['empty list sets nothing', 'GET', '/empty', {}, (r) => expect(r.headers.vary).toBeUndefined()],
    ['invalid field name throws', 'GET', '/bad', {}, (r) => expect(r.body.toString()).toMatch(/^TypeError/)],
  ])
})
