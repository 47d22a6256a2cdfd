import { describe } from 'vitest'
import { differentialValues as differential, out } from './helpers'

function build(parser: unknown) {
  return (framework: any) => {
    const app = framework()
    if (parser !== undefined) app.set('query parser', parser)
    app.get('/', (req: any, res: any) => res.json(out({ query: req.query, nullProto: Object.getPrototypeOf(req.query) === null })))
    return app
  }
}

describe('req.query', () => {
  describe("'simple' (default)", () => {
    differential(build(undefined), [
      ['GET', '/?a=1&a=2&b[c]=3', {}, { query: { a: ['1', '2'], 'b[c]': '3' }, nullProto: true }],
      ['GET', '/', {}, { query: {}, nullProto: true }],
    ])
  })
  describe("'extended'", () => {
    differential(build('extended'), [['GET', '/?b[c]=3&d[]=x', {}, { query: { b: { c: '3' }, d: ['x'] }, nullProto: false }]])
  })
  describe('disabled', () => {
    differential(build(false), [['GET', '/?a=1', {}, { query: {}, nullProto: true }]])
  })
  describe('a custom function', () => {
    differential(build((s: string) => ({ raw: s })), [['GET', '/?x=1&y', {}, { query: { raw: 'x=1&y' }, nullProto: false }]])
  })
})
