import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.ips)))
    return app
  }
}

const xff = { 'x-forwarded-for': '10.0.0.1, 192.168.0.7, 127.0.0.2' }

describe('req.ips', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', {}, []],
      ['GET', '/', xff, []],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', {}, []],
      ['GET', '/', xff, ['10.0.0.1', '192.168.0.7', '127.0.0.2']],
    ])
  })
  describe('trust proxy as a hop count', () => {
    differential(build(2), [['GET', '/', xff, ['192.168.0.7', '127.0.0.2']]])
  })
  describe("trust proxy 'loopback'", () => {
    differential(build('loopback'), [['GET', '/', xff, ['192.168.0.7', '127.0.0.2']]])
  })
})
