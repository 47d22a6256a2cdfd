import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.secure)))
    return app
  }
}

describe('req.secure', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', {}, false],
      ['GET', '/', { 'x-forwarded-proto': 'https' }, false],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', { 'x-forwarded-proto': 'https' }, true],
      ['GET', '/', { 'x-forwarded-proto': 'http' }, false],
    ])
  })
})
