import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(trust: unknown) {
  return (framework: any) => {
    const app = framework()
    if (trust !== undefined) app.set('trust proxy', trust)
    app.get('/', (req: any, res: any) => res.json(out(req.ip)))
    return app
  }
}

const xff = { 'x-forwarded-for': '10.0.0.1, 192.168.0.7, 127.0.0.2' }

describe('req.ip', () => {
  describe('trust proxy off (default)', () => {
    differential(build(undefined), [
      ['GET', '/', {}, '127.0.0.1'],
      ['GET', '/', xff, '127.0.0.1'],
    ])
  })
  describe('trust proxy true', () => {
    differential(build(true), [
      ['GET', '/', {}, '127.0.0.1'],
      ['GET', '/', xff, '10.0.0.1'],
    ])
  })
  describe('trust proxy as a hop count', () => {
    differential(build(2), [['GET', '/', xff, '192.168.0.7']])
  })
  describe("trust proxy 'loopback'", () => {
    differential(build('loopback'), [['GET', '/', xff, '192.168.0.7']])
  })
  describe('trust proxy as a comma-separated list with a CIDR', () => {
    differential(build('loopback, 192.168.0.0/16'), [['GET', '/', xff, '10.0.0.1']])
  })
  describe('trust proxy as an array', () => {
    differential(build(['127.0.0.1', '127.0.0.2']), [['GET', '/', xff, '192.168.0.7']])
  })
  describe('trust proxy as a function', () => {
    differential(build((addr: string) => addr !== '192.168.0.7'), [['GET', '/', xff, '192.168.0.7']])
  })
  describe('trust proxy false after true', () => {
    differential(
      (framework) => {
        const app = build(true)(framework)
        app.set('trust proxy', false)
        return app
      },
      [['GET', '/', xff, '127.0.0.1']],
    )
  })
})
