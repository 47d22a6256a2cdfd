// app.engine(ext, fn) on express@5 and on xypriss.
import { describe, expect, it } from 'vitest'
import { express, xypriss } from './helpers'

describe.each([
  ['express', express],
  ['xypriss', xypriss],
])('app.engine on %s', (_name, framework) => {
  it('stores the engine under the extension, with or without a leading dot', () => {
    const app = framework()
    const a = () => {}
    const b = () => {}
    expect(app.engine('html', a)).toBe(app)
    app.engine('.tpl', b)
    expect(app.engines['.html']).toBe(a)
    expect(app.engines['.tpl']).toBe(b)
    expect(app.engines.html).toBeUndefined()
  })

  it('requires a function', () => {
    const app = framework()
    expect(() => app.engine('html', 'nope')).toThrow(new Error('callback function required'))
  })

  it('is inherited by a mounted app', () => {
    const parent = framework()
    const child = framework()
    const fn = () => {}
    parent.engine('html', fn)
    parent.use('/child', child)
    expect(child.engines['.html']).toBe(fn)
    expect(Object.keys(child.engines)).toEqual([])
  })
})
