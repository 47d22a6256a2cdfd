import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.accepts', () => {
  differential(
    (framework) => {
      const app = framework()
      app.get('/one', (req: any, res: any) => res.json(out(req.accepts('html'))))
      app.get('/many', (req: any, res: any) => res.json(out(req.accepts('json', 'text'))))
      app.get('/array', (req: any, res: any) => res.json(out(req.accepts(['text/html', 'application/json']))))
      app.get('/list', (req: any, res: any) => res.json(out(req.accepts())))
      return app
    },
    [
      ['GET', '/one', {}, 'html'],
      ['GET', '/one', { accept: 'text/html' }, 'html'],
      ['GET', '/one', { accept: 'application/json' }, false],
      ['GET', '/many', { accept: 'text/plain, application/json;q=0.5' }, 'text'],
      ['GET', '/many', { accept: 'application/json, text/plain;q=0.5' }, 'json'],
      ['GET', '/many', { accept: 'image/png' }, false],
      ['GET', '/array', { accept: 'application/*' }, 'application/json'],
      ['GET', '/array', { accept: '*/*' }, 'text/html'],
      ['GET', '/list', { accept: 'text/html;q=0.1, application/json' }, ['application/json', 'text/html']],
      ['GET', '/list', {}, ['*/*']],
    ],
  )
})
