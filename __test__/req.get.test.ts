import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.get', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.json(out([req.get('Content-Type'), req.header('x-multi'), req.get('Referrer'), req.get('referer')])))
      app.get('/bad', (req: any, res: any) => {
        const errors = [() => req.get(), () => req.get(''), () => req.get(42)].map((f) => {
          try {
            f()
            return 'no error'
          } catch (e: any) {
            return e.message
          }
        })
        res.json(out(errors))
      })
      return app
    },
    [
      ['GET', '/', { 'content-type': 'text/plain', 'x-multi': 'a', referer: 'http://r/' }, ['text/plain', 'a', 'http://r/', 'http://r/']],
      ['GET', '/', {}, [null, null, null, null]],
      [
        'GET',
        '/bad',
        {},
        ['name argument is required to req.get', 'name argument is required to req.get', 'name must be a string to req.get'],
      ],
    ],
  )
})
