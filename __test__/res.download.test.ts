// res.download: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'


const root = mkdtempSync(join(tmpdir(), 'xyp-download-'))
writeFileSync(join(root, 'user.html'), '<p>{{user.name}}</p>')
writeFileSync(join(root, '日本語.txt'), 'unicode')
for (const f of ['user.html', '日本語.txt']) utimesSync(join(root, f), 1_700_000_000, 1_700_000_000)
afterAll(() => rmSync(root, { recursive: true, force: true }))

function build(framework: any) {
  const app = framework()
  const log: string[] = []
  app.get('/', (req: any, res: any) => res.download(join(root, 'user.html')))
  app.get('/name', (req: any, res: any) => res.download(join(root, 'user.html'), 'document'))
  app.get('/name-path', (req: any, res: any) => res.download(join(root, 'user.html'), 'a/b/report.pdf'))
  app.get('/unicode', (req: any, res: any) => res.download(join(root, '日本語.txt')))
  app.get('/relative', (req: any, res: any) => res.download(relative(process.cwd(), join(root, 'user.html'))))
  app.get('/root', (req: any, res: any) => res.download('user.html', 'x.html', { root }))
  app.get('/options-only', (req: any, res: any) => res.download('user.html', { root, maxAge: '1h' }))
  app.get('/headers', (req: any, res: any) =>
    res.download(join(root, 'user.html'), 'n.html', { headers: { 'X-Foo': 'bar', 'content-disposition': 'inline' } }),
  )
  app.get('/cb', (req: any, res: any) => res.download(join(root, 'user.html'), (err: any) => log.push(err ? 'err' : 'cb ok')))
  app.get('/name-cb', (req: any, res: any) => res.download(join(root, 'user.html'), 'n.html', (err: any) => log.push(err ? 'err' : 'name cb ok')))
  app.get('/opts-cb', (req: any, res: any) =>
    res.download('user.html', 'n.html', { root }, (err: any) => log.push(err ? 'err' : 'opts cb ok')),
  )
  app.get('/missing', (req: any, res: any) =>
    res.download(join(root, 'nope.txt'), (err: any) => {
      log.push(err.code)
      res.status(err.status).send('missing ' + err.code)
    }),
  )
  app.get('/missing-next', (req: any, res: any) => res.download(join(root, 'nope.txt')))
  app.get('/log', (req: any, res: any) => res.json(log.splice(0)))
  app.use((err: any, req: any, res: any, next: any) => res.status(err.status || 500).send('error ' + err.status))
  return app
}

describe('res.download', () => {
  differential(build, [
    ['attachment with the file name', 'GET', '/', {}, (r) => {
      expect(r.headers['content-disposition']).toBe('attachment; filename=user.html')
      expect(r.body.toString()).toBe('<p>{{user.name}}</p>')
    }],
    ['given name', 'GET', '/name', {}, (r) => expect(r.headers['content-disposition']).toBe('attachment; filename=document')],
    ['basename of the given name', 'GET', '/name-path'],
    ['non-ASCII name', 'GET', '/unicode'],
    ['relative path resolved', 'GET', '/relative'],
    ['root option', 'GET', '/root'],
    ['options in place of the name', 'GET', '/options-only', {}, (r) => expect(r.headers['cache-control']).toBe('public, max-age=3600')],
    ['headers option, Content-Disposition not overridable', 'GET', '/headers', {}, (r) => {
      expect(r.headers['x-foo']).toBe('bar')
      expect(r.headers['content-disposition']).toBe('attachment; filename=n.html')
    }],
    ['callback second', 'GET', '/cb'],
    ['callback third', 'GET', '/name-cb'],
    ['callback fourth', 'GET', '/opts-cb'],
    ['missing file to the callback', 'GET', '/missing'],
    ['missing file to next', 'GET', '/missing-next', {}, (r) => expect(r.body.toString()).toBe('error 404')],
    ['HEAD', 'HEAD', '/'],
    ['range', 'GET', '/', { headers: { range: 'bytes=3-6' } }, (r) => expect(r.body.toString()).toBe('{{us')],
    ['callbacks ran', 'GET', '/log', {}, (r) => expect(JSON.parse(r.body.toString())).toEqual(['cb ok', 'name cb ok', 'opts cb ok', 'ENOENT'])],
  ])
})
