import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.acceptsLanguages', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.json(out(req.acceptsLanguages('en', 'fr'))))
      app.get('/array', (req: any, res: any) => res.json(out(req.acceptsLanguages(['fr-CA', 'en-US']))))
      app.get('/list', (req: any, res: any) => res.json(out(req.acceptsLanguages())))
      return app
    },
    [
      ['GET', '/', {}, 'en'],
      ['GET', '/', { 'accept-language': 'fr;q=0.9, en;q=0.8' }, 'fr'],
      ['GET', '/', { 'accept-language': 'en-US' }, 'en'],
      ['GET', '/', { 'accept-language': 'de' }, false],
      ['GET', '/array', { 'accept-language': 'en-US, fr-CA;q=0.5' }, 'en-US'],
      ['GET', '/list', { 'accept-language': 'fr;q=0.5, de' }, ['de', 'fr']],
      ['GET', '/list', {}, ['*']],
    ],
  )
})
