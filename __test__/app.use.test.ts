// app.use() argument errors: the same TypeError messages as express@5, and what was registered
// before a bad argument stays registered.
import { describe, expect, it } from 'vitest'
import { express, xypriss } from './helpers'

const outcome = (framework: any, ...args: any[]) => {
  const app = framework()
  try {
    app.use(...args)
    return { threw: null, layers: app.router.stack.length }
  } catch (e: any) {
    return { threw: `${e.constructor.name}: ${e.message}`, layers: app.router.stack.length }
  }
}

describe('app.use() argument errors', () => {
  const ok = () => {}
  for (const [title, args] of [
    ['no arguments', []],
    ['a path alone', ['/']],
    ['an empty array', [[]]],
    ['a string as middleware', ['/', 'hi']],
    ['a number as middleware', ['/', 7]],
    ['null as middleware', ['/', null]],
    ['a Date as middleware', ['/', new Date()]],
    ['a bad one after a good one', ['/', ok, {}]],
    ['nested arrays with a bad one', [[ok, [ok, 5]]]],
  ] as Array<[string, any[]]>) {
    it(title, () => {
      const theirs = outcome(express, ...args)
      expect(outcome(xypriss, ...args)).toEqual(theirs)
    })
  }
})
