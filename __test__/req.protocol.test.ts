import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.protocol)))
    return app
  }
}

describe('req.protocol', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', {}, 'http'],
      ['GET', '/', { 'x-forwarded-proto': 'https' }, 'http'],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', {}, 'http'],
      ['GET', '/', { 'x-forwarded-proto': 'https' }, 'https'],
      ['GET', '/', { 'x-forwarded-proto': ' https , http' }, 'https'],
    ])
  })
  describe('trusting only another address', () => {
    differential(build('10.0.0.1'), [['GET', '/', { 'x-forwarded-proto': 'https' }, 'http']])
  })
})
