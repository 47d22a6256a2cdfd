// RegExp paths: req.params from capture groups (named groups by name, unnamed ones numbered from 0,
// groups that did not take part left out), and a stack with no path to match, as in express@5.
import { describe, expect, it } from 'vitest'
import { differentialReplies as differential, express, xypriss } from './helpers'

function build(framework: any) {
  const app = framework()
  const show = (req: any, res: any) => res.json({ params: req.params, keys: Object.keys(req.params) })
  app.get(/^\/user\/(?<userId>[0-9]+)\/(view|edit)?$/, show)
  app.get(/^\/pair\/(\w+)-(?<second>\w+)(?:-(\w+))?$/, show)
  app.get(/^\/class\/[(](\d+)[)]$/, show)
  app.get(/^\/look\/(?<=\/look\/)(a)(?!b)/, show)
  app.param('userId', (req: any, res: any, next: any, value: string) => {
    res.set('X-Param', value)
    next()
  })
  return app
}

describe('RegExp route params', () => {
  differential(build, [
    ['named and unnamed groups', 'GET', '/user/10/edit'],
    ['an optional group that did not match leaves no param', 'GET', '/user/10/'],
    ['named group between unnamed ones, optional last one absent', 'GET', '/pair/a-b'],
    ['optional last one present', 'GET', '/pair/a-b-c'],
    ['parentheses inside a character class are not groups', 'GET', '/class/(7)'],
    ['lookarounds are not groups', 'GET', '/look/a'],
  ])
})

describe('router.handle without a path', () => {
  for (const [title, req] of [
    ['blank URL', { url: '', method: 'GET' }],
    ['missing URL', { method: 'GET' }],
    ['query only', { url: '?a=1', method: 'GET' }],
  ] as const) {
    it(`${title}: no layer runs, done() is called`, async () => {
      const outcome = (framework: any) =>
        new Promise((resolve) => {
          const router = framework.Router()
          router.use(() => resolve('layer ran'))
          router.handle({ ...req }, {}, (err: any) => resolve(err ? 'error' : 'done'))
        })
      expect(await outcome(express)).toBe('done')
      expect(await outcome(xypriss)).toBe('done')
    })
  }
})
