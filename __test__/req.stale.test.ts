import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

/** Answers without the validators, so res.send's own freshness check (a 304) stays out of the way. */
function reply(res: any, value: boolean) {
  res.removeHeader('ETag')
  res.removeHeader('Last-Modified')
  res.json(out(value))
}

function build(framework: any) {
  const app = framework()
  app.get('/etag', (req: any, res: any) => {
    res.set('ETag', '"123"')
    reply(res, req.stale)
  })
  app.get('/modified', (req: any, res: any) => {
    res.set('Last-Modified', 'Sat, 01 Jan 2000 00:00:00 GMT')
    reply(res, req.stale)
  })
  return app
}

describe('req.stale', () => {
  differential(build, [
    ['GET', '/etag', {}, true],
    ['GET', '/etag', { 'if-none-match': '"456", "123"' }, false],
    ['GET', '/etag', { 'if-none-match': '"456"' }, true],
    ['GET', '/modified', { 'if-modified-since': 'Sun, 02 Jan 2000 00:00:00 GMT' }, false],
    ['GET', '/modified', { 'if-modified-since': 'Fri, 31 Dec 1999 00:00:00 GMT' }, true],
  ])
})
