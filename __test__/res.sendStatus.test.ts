// res.sendStatus: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Reply, type Running } from './helpers'

// `framing: false`: the body's framing may differ (Content-Length where Node chunks after an explicit writeHead).
type Case = [title: string, method: string, path: string, options?: { headers?: Record<string, string>; body?: string; framing?: false }, check?: (r: Reply) => void]

const ignored = new Set(['date', 'connection', 'keep-alive'])
const framing = new Set(['content-length', 'transfer-encoding'])
const visible = (r: Reply, withFraming = true) =>
  Object.fromEntries(Object.entries(r.headers).filter(([k]) => !ignored.has(k) && (withFraming || !framing.has(k))))

/** The same app on express@5 and xypriss: every case must give the same status, body and headers. */
function differential(build: (framework: any) => any, cases: Case[]) {
  let onExpress: Running
  let onXypriss: Running
  beforeAll(async () => {
    onExpress = await listen(build(express))
    onXypriss = await listen(build(xypriss))
  })
  afterAll(async () => {
    await onExpress.close()
    await onXypriss.close()
  })
  for (const [title, method, path, options, check] of cases) {
    it(title, async () => {
      const a = await request(onExpress.port, method, path, options)
      const b = await request(onXypriss.port, method, path, options)
      expect(b.status).toBe(a.status)
      expect(b.body.toString('latin1')).toBe(a.body.toString('latin1'))
      expect(visible(b, options?.framing !== false)).toEqual(visible(a, options?.framing !== false))
      check?.(b)
    })
  }
}

function build(framework: any) {
  const app = framework()
  app.get('/:code', (req: any, res: any) => res.sendStatus(Number(req.params.code)))
  app.get('/bad/:code', (req: any, res: any) => {
    try {
      res.sendStatus(Number(req.params.code))
    } catch (e: any) {
      res.status(500).send(e.constructor.name + ': ' + e.message)
    }
  })
  return app
}

describe('res.sendStatus', () => {
  differential(build, [
    ['200', 'GET', '/200', {}, (r) => expect(r.body.toString()).toBe('OK')],
    ['201', 'GET', '/201'],
    ['204 has no body', 'GET', '/204'],
    ['404', 'GET', '/404'],
    ['418 message from statuses', 'GET', '/418'],
    ['425', 'GET', '/425'],
    ['unknown code: the number', 'GET', '/599', {}, (r) => expect(r.body.toString()).toBe('599')],
    ['HEAD', 'HEAD', '/500'],
    ['out of range throws RangeError', 'GET', '/bad/1000'],
    ['non-integer throws TypeError', 'GET', '/bad/200.5', {}, (r) => expect(r.body.toString()).toMatch(/^TypeError: Invalid status code: 200.5/)],
  ])
})
