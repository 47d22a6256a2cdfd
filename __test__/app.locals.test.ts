// app.locals on express@5 and on xypriss.
import { describe, expect, it } from 'vitest'
import { express, listen, request, xypriss } from './helpers'

describe.each([
  ['express', express],
  ['xypriss', xypriss],
])('app.locals on %s', (_name, framework) => {
  it('is a prototype-less object holding the settings', () => {
    const app = framework()
    expect(Object.getPrototypeOf(app.locals)).toBe(null)
    expect(app.locals.settings).toBe(app.settings)
    app.set('title', 'My App')
    expect(app.locals.settings.title).toBe('My App')
  })

  it('reaches app.render', async () => {
    const app = framework()
    app.locals.who = 'tobi'
    app.set('view', class {
      path = 'x'
      render(opts: any, cb: any) {
        cb(null, opts.who + ':' + Object.keys(opts.settings).includes('view'))
      }
    })
    const html = await new Promise((resolve, reject) => app.render('v', (err: any, out: string) => (err ? reject(err) : resolve(out))))
    expect(html).toBe('tobi:true')
  })

  it('is separate from res.locals, which starts empty on each request', async () => {
    const app = framework()
    app.locals.shared = 1
    app.get('/', (req: any, res: any) => {
      res.locals.n = (res.locals.n ?? 0) + 1
      res.json({ res: { ...res.locals }, proto: Object.getPrototypeOf(res.locals), app: req.app.locals.shared })
    })
    const running = await listen(app)
    try {
      for (let i = 0; i < 2; i++) {
        const reply = await request(running.port, 'GET', '/')
        expect(JSON.parse(reply.body.toString())).toEqual({ res: { n: 1 }, proto: null, app: 1 })
      }
    } finally {
      await running.close()
    }
  })
})
