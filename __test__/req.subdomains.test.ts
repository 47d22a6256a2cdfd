import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(offset: number | undefined, trust = false) {
  return (framework: any) => {
    const app = framework()
    if (offset !== undefined) app.set('subdomain offset', offset)
    app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.subdomains)))
    return app
  }
}

describe('req.subdomains', () => {
  describe('default offset (2)', () => {
    differential(build(undefined), [
      ['GET', '/', { host: 'tobi.ferrets.example.com' }, ['ferrets', 'tobi']],
      ['GET', '/', { host: 'example.com:3000' }, []],
      ['GET', '/', { host: 'a.b.example.com:3000' }, ['b', 'a']],
      ['GET', '/', { host: '127.0.0.1' }, []],
      ['GET', '/', { host: '[::1]:80' }, []],
    ])
  })
  describe('offset 1', () => {
    differential(build(1), [['GET', '/', { host: 'tobi.ferrets.localhost' }, ['ferrets', 'tobi']]])
  })
  describe('offset 0, an IP address', () => {
    differential(build(0), [['GET', '/', { host: '127.0.0.1:3000' }, ['127.0.0.1']]])
  })
  describe('behind a trusted proxy', () => {
    differential(build(undefined, true), [
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'x.y.example.org' }, ['y', 'x']],
    ])
  })
})
