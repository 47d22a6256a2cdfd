// Node's OutgoingMessage methods called on res (the `cookies` package, used by cookie-session, sets
// Set-Cookie with http.OutgoingMessage.prototype.setHeader when res.set exists): they must reach the
// headers the response sends, on express@5 and xypriss alike.
import http from 'node:http'
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

const { setHeader, getHeader, removeHeader, hasHeader } = http.OutgoingMessage.prototype

function build(framework: any) {
  const app = framework()
  app.get('/set', (req: any, res: any) => {
    setHeader.call(res, 'Set-Cookie', ['a=1; path=/', 'b=2; path=/'])
    res.send(String(res.get('Set-Cookie')))
  })
  app.get('/read', (req: any, res: any) => {
    res.set('X-Mine', 'yes')
    res.send(`${getHeader.call(res, 'x-mine')} ${hasHeader.call(res, 'X-Mine')}`)
  })
  app.get('/remove', (req: any, res: any) => {
    res.set('X-Gone', 'soon')
    removeHeader.call(res, 'X-Gone')
    res.send(String(res.get('X-Gone')))
  })
  return app
}

describe('OutgoingMessage.prototype methods on res', () => {
  differential(build, [
    ['setHeader reaches the sent headers', 'GET', '/set', {}, (r) => expect(r.headers['set-cookie']).toEqual(['a=1; path=/', 'b=2; path=/'])],
    ['getHeader and hasHeader see res.set', 'GET', '/read', {}, (r) => expect(r.body.toString()).toBe('yes true')],
    ['removeHeader removes', 'GET', '/remove', {}, (r) => expect(r.headers['x-gone']).toBeUndefined()],
  ])
})
