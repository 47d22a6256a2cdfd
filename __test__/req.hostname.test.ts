import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.hostname)))
    return app
  }
}

describe('req.hostname', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', { host: 'example.com:3000' }, 'example.com'],
      ['GET', '/', { host: 'example.com' }, 'example.com'],
      ['GET', '/', { host: '[::1]:3000' }, '[::1]'],
      ['GET', '/', { host: '[::1]' }, '[::1]'],
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'evil.com' }, 'example.com'],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': 'proxied.com:8080' }, 'proxied.com'],
      ['GET', '/', { host: 'example.com', 'x-forwarded-host': '[::1]:8080, other' }, '[::1]'],
    ])
  })
})
