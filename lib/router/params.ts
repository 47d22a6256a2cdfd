// app.param() / router.param(): the callbacks for a route parameter run before the layer that
// matched it, once per value per request (router@2 semantics).
import type { NextFunction, Params } from '../types'
import { isThenable } from './layer'

/** A `param()` callback: `(req, res, next, value, name)`. */
export type ParamHandler = (req: never, res: never, next: NextFunction, value: unknown, name: string) => unknown

/** A param() callback's outcome for one value, reused while the value stays the same. */
export interface ParamCall {
  error: unknown
  match: unknown
  value: unknown
}

export function processParams(
  params: Record<string, ParamHandler[]>,
  keys: string[],
  called: Record<string, ParamCall>,
  req: { params: Params },
  res: object,
  done: NextFunction,
): void {
  if (keys.length === 0) {
    done()
    return
  }
  let i = 0
  let paramIndex = 0
  let key: string
  let paramVal: unknown
  let paramCallbacks: ParamHandler[] | undefined
  let paramCalled: ParamCall

  function param(err?: unknown): void {
    if (err) {
      done(err)
      return
    }
    if (i >= keys.length) {
      done()
      return
    }
    paramIndex = 0
    key = keys[i++]
    paramVal = req.params[key]
    paramCallbacks = params[key]
    paramCalled = called[key]
    if (paramVal === undefined || !paramCallbacks) {
      param()
      return
    }
    if (paramCalled && (paramCalled.match === paramVal || (paramCalled.error && paramCalled.error !== 'route'))) {
      req.params[key] = paramCalled.value as string
      param(paramCalled.error)
      return
    }
    called[key] = paramCalled = { error: null, match: paramVal, value: paramVal }
    paramCallback()
  }

  function paramCallback(err?: unknown): void {
    const fn = paramCallbacks![paramIndex++] as ((...args: unknown[]) => unknown) | undefined
    paramCalled.value = req.params[key]
    if (err) {
      paramCalled.error = err
      param(err)
      return
    }
    if (!fn) {
      param()
      return
    }
    try {
      const ret = fn(req, res, paramCallback, paramVal, key)
      if (ret && isThenable(ret)) ret.then(null, (error: unknown) => paramCallback(error || new Error('Rejected promise')))
    } catch (e) {
      paramCallback(e)
    }
  }

  param()
}
