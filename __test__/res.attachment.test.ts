// res.attachment: the same app on express@5 and xypriss must answer alike (status, body, headers but Date).
import { describe, expect } from 'vitest'
import { differentialReplies as differential } from './helpers'

function build(framework: any) {
  const app = framework()
  app.get('/', (req: any, res: any) => res.attachment().send('x'))
  app.get('/name', (req: any, res: any) => res.attachment('path/to/image.png').send('x'))
  app.get('/unicode', (req: any, res: any) => res.attachment('/locales/日本語.txt').end('x'))
  app.get('/quote', (req: any, res: any) => res.attachment('a "quoted" name.json').end('{}'))
  app.get('/unknown', (req: any, res: any) => res.attachment('file.unknownext').end('x'))
  app.get('/type-kept', (req: any, res: any) => res.attachment('doc.pdf').type('txt').send('x'))
  return app
}

describe('res.attachment', () => {
  differential(build, [
    ['without a name', 'GET', '/', {}, (r) => expect(r.headers['content-disposition']).toBe('attachment')],
    ['basename and Content-Type from the extension', 'GET', '/name', {}, (r) => {
      expect(r.headers['content-disposition']).toBe('attachment; filename=image.png')
      expect(r.headers['content-type']).toBe('image/png; charset=utf-8')
    }],
    ['non-ASCII name with a fallback', 'GET', '/unicode', {}, (r) => expect(r.headers['content-disposition']).toContain("filename*=UTF-8''")],
    ['quotes escaped', 'GET', '/quote'],
    ['unknown extension', 'GET', '/unknown'],
    ['type set afterwards wins', 'GET', '/type-kept'],
  ])
})
