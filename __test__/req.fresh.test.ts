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
    reply(res, req.fresh)
  })
  app.get('/modified', (req: any, res: any) => {
    res.set('Last-Modified', 'Sat, 01 Jan 2000 00:00:00 GMT')
    reply(res, req.fresh)
  })
  app.get('/status', (req: any, res: any) => {
    res.set('ETag', '"123"')
    res.statusCode = 404
    const fresh = req.fresh
    reply(res.status(200), fresh)
  })
  app.post('/etag', (req: any, res: any) => {
    res.set('ETag', '"123"')
    reply(res, req.fresh)
  })
  return app
}

describe('req.fresh', () => {
  differential(build, [
    ['GET', '/etag', {}, false],
    ['GET', '/etag', { 'if-none-match': '"123"' }, true],
    ['GET', '/etag', { 'if-none-match': '"456"' }, false],
    ['GET', '/etag', { 'if-none-match': '"123"', 'cache-control': 'no-cache' }, false],
    ['GET', '/modified', { 'if-modified-since': 'Sun, 02 Jan 2000 00:00:00 GMT' }, true],
    ['GET', '/modified', { 'if-modified-since': 'Fri, 31 Dec 1999 00:00:00 GMT' }, false],
    ['GET', '/status', { 'if-none-match': '"123"' }, false],
    ['POST', '/etag', { 'if-none-match': '"123"' }, false],
  ])
})
