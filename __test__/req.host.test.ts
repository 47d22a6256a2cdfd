import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.host)))
    return app
  }
}

describe('req.host', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', { host: 'example.com:3000' }, 'example.com:3000'],
      ['GET', '/', { host: '[::1]:3000' }, '[::1]:3000'],
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'evil.com' }, 'example.com'],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'proxied.com:8080' }, 'proxied.com:8080'],
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'one.com , two.com' }, 'one.com'],
      ['GET', '/', { host: 'example.com' }, 'example.com'],
    ])
  })
})
