// res.render: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'


const views = mkdtempSync(join(tmpdir(), 'xyp-render-'))
writeFileSync(join(views, 'user.ejs'), '<p><%= site %>: <%= user %> <%= extra %></p>')
writeFileSync(join(views, 'broken.ejs'), '<p><%= notDefined.x %></p>')
afterAll(() => rmSync(views, { recursive: true, force: true }))

function build(framework: any) {
  const app = framework()
  app.set('views', views)
  app.set('view engine', 'ejs')
  app.locals.site = 'site'
  app.locals.extra = 'app'
  app.use((req: any, res: any, next: any) => {
    res.locals.user = 'tobi'
    next()
  })
  app.get('/', (req: any, res: any) => res.render('user'))
  app.get('/locals', (req: any, res: any) => res.render('user', { extra: 'options' }))
  app.get('/res-locals-win', (req: any, res: any) => {
    res.locals.extra = 'res.locals'
    res.render('user')
  })
  app.get('/callback', (req: any, res: any) =>
    res.render('user', (err: any, html: string) => res.type('txt').send('cb:' + html)),
  )
  app.get('/options-callback', (req: any, res: any) =>
    res.render('user.ejs', { extra: 'o' }, (err: any, html: string) => res.send('cb:' + html)),
  )
  app.get('/status', (req: any, res: any) => res.status(201).render('user'))
  app.get('/missing', (req: any, res: any) => res.render('nope'))
  app.get('/broken', (req: any, res: any) => res.render('broken'))
  app.get('/broken-cb', (req: any, res: any) => res.render('broken', (err: any) => res.send('got ' + err.name)))
  app.use((err: any, req: any, res: any, next: any) => res.status(500).send(err.message.split('\n')[0].replace(views, '<views>')))
  return app
}

describe('res.render', () => {
  differential(build, [
    ['renders with app.locals and res.locals', 'GET', '/', {}, (r) => {
      expect(r.body.toString()).toBe('<p>site: tobi app</p>')
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8')
    }],
    ['options win over app.locals', 'GET', '/locals', {}, (r) => expect(r.body.toString()).toBe('<p>site: tobi options</p>')],
    ['res.locals win over app.locals', 'GET', '/res-locals-win'],
    ['callback second: no response made', 'GET', '/callback'],
    ['options and callback', 'GET', '/options-callback'],
    ['keeps the status', 'GET', '/status'],
    ['missing view to next(err)', 'GET', '/missing', {}, (r) => expect(r.status).toBe(500)],
    ['template error to next(err)', 'GET', '/broken'],
    ['template error to the callback', 'GET', '/broken-cb'],
    ['HEAD', 'HEAD', '/'],
  ])
})
