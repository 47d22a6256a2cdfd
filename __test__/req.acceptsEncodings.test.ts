import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.acceptsEncodings', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/', (req: any, res: any) => res.json(out(req.acceptsEncodings('gzip', 'deflate'))))
      app.get('/array', (req: any, res: any) => res.json(out(req.acceptsEncodings(['br', 'gzip']))))
      app.get('/list', (req: any, res: any) => res.json(out(req.acceptsEncodings())))
      return app
    },
    [
      ['GET', '/', { 'accept-encoding': 'gzip' }, 'gzip'],
      ['GET', '/', { 'accept-encoding': 'deflate, gzip;q=0.5' }, 'deflate'],
      ['GET', '/', { 'accept-encoding': 'br' }, false],
      ['GET', '/array', { 'accept-encoding': 'gzip, br' }, 'gzip'], // equal quality: the header's order
      ['GET', '/array', { 'accept-encoding': 'gzip;q=0.5, br' }, 'br'],
      ['GET', '/list', { 'accept-encoding': 'gzip;q=0.2, br' }, ['br', 'gzip', 'identity']],
    ],
  )
})
