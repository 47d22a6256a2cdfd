// res.send(): charset added to an app's Content-Type with its parameters kept in order and a
// malformed one tolerated (content-type 2), and no Content-Length beside an app's
// Transfer-Encoding (Express 5.3).
import { describe, expect, it } from 'vitest'
import { differentialReplies as differential, onBoth, request } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/params', (req: any, res: any) => res.set('Content-Type', 'text/plain; foo=bar').send('hey'))
  app.get('/params-charset', (req: any, res: any) => res.set('Content-Type', 'text/plain; z=1; charset=latin1; a=2').send('hey'))
  app.get('/malformed', (req: any, res: any) => res.set('Content-Type', 'text/plain; foo').send('hey'))
  app.get('/quoted', (req: any, res: any) => res.set('Content-Type', 'text/plain; name="a b"').send('hey'))
  app.get('/te-chunked', (req: any, res: any) => res.set('Transfer-Encoding', 'chunked').send('hello'))
  app.get('/te-empty', (req: any, res: any) => res.set('Transfer-Encoding', 'chunked').send(''))
  app.get('/te-buffer', (req: any, res: any) => res.set('Transfer-Encoding', 'chunked').send(Buffer.from('bytes')))
  app.get('/te-gzip', (req: any, res: any) => res.set('Transfer-Encoding', 'gzip').send(''))
  return app
}

describe('res.send', () => {
  differential(build, [
    ['keeps Content-Type parameters in order, charset last', 'GET', '/params', {}, (r) => expect(r.headers['content-type']).toBe('text/plain; foo=bar; charset=utf-8')],
    ['replaces a charset in place', 'GET', '/params-charset', {}, (r) => expect(r.headers['content-type']).toBe('text/plain; z=1; charset=utf-8; a=2')],
    ['tolerates a parameter that fails to parse', 'GET', '/malformed', {}, (r) => expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')],
    ['keeps quoted parameters', 'GET', '/quoted'],
    ['no Content-Length beside Transfer-Encoding: chunked', 'GET', '/te-chunked', {}, (r) => expect(r.headers['content-length']).toBeUndefined()],
    ['an empty body with Transfer-Encoding: chunked', 'GET', '/te-empty', {}, (r) => expect(r.headers['content-length']).toBeUndefined()],
    ['a Buffer with Transfer-Encoding: chunked', 'GET', '/te-buffer', {}, (r) => expect(r.headers['content-length']).toBeUndefined()],
  ])

  describe('Transfer-Encoding without chunked', () => {
    const both = onBoth(build)
    it('sends no Content-Length (the framing itself differs: the engine adds chunked)', async () => {
      for (const port of [both.express.port, both.xypriss.port]) {
        const r = await request(port, 'GET', '/te-gzip')
        expect(r.status).toBe(200)
        expect(r.headers['content-length']).toBeUndefined()
        expect(r.headers['transfer-encoding']).toMatch(/^gzip/)
        expect(r.body.length).toBe(0)
      }
    })
  })
})
