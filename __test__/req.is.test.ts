import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

describe('req.is', () => {
  differential(
    (framework) => {
      const app = framework()
      app.all('/json', (req: any, res: any) => res.json(out(req.is('json'))))
      app.post('/many', (req: any, res: any) => res.json(out(req.is('html', 'application/*'))))
      app.post('/array', (req: any, res: any) => res.json(out(req.is(['text/*', 'urlencoded']))))
      app.post('/none', (req: any, res: any) => res.json(out(req.is())))
      return app
    },
    [
      ['POST', '/json', { 'content-type': 'application/json; charset=utf-8', 'content-length': '0' }, 'json'],
      ['POST', '/json', { 'content-type': 'text/html', 'content-length': '0' }, false],
      ['POST', '/json', {}, false], // a chunked body without a type
      ['GET', '/json', {}, null], // no body at all
      ['POST', '/many', { 'content-type': 'application/vnd.api+json', 'content-length': '0' }, 'application/vnd.api+json'],
      ['POST', '/many', { 'content-type': 'text/html', 'content-length': '0' }, 'html'],
      ['POST', '/array', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }, 'urlencoded'],
      ['POST', '/array', { 'content-type': 'text/plain', 'content-length': '0' }, 'text/plain'],
      ['POST', '/none', { 'content-type': 'text/plain', 'content-length': '0' }, 'text/plain'],
    ],
  )
})
