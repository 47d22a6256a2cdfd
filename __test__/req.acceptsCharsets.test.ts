import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.acceptsCharsets', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.json(out(req.acceptsCharsets('utf-8', 'iso-8859-1'))))
      app.get('/list', (req: any, res: any) => res.json(out(req.acceptsCharsets())))
      return app
    },
    [
      ['GET', '/', {}, 'utf-8'],
      ['GET', '/', { 'accept-charset': 'iso-8859-1' }, 'iso-8859-1'],
      ['GET', '/', { 'accept-charset': 'utf-8;q=0.1, iso-8859-1' }, 'iso-8859-1'],
      ['GET', '/', { 'accept-charset': 'koi8-r' }, false],
      ['GET', '/list', { 'accept-charset': 'utf-8;q=0.5, koi8-r' }, ['koi8-r', 'utf-8']],
    ],
  )
})
