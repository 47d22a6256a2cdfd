// One entry of a router's stack: a path matcher and a handler (Express 5 / router@2 semantics).
import { match as compile, type MatchFunction } from 'path-to-regexp'
import type { NextFunction, Params } from '../types'

/** A middleware or route handler; with four parameters, an error handler (Express tells them by arity). */
export type Handler = RequestHandler | ErrorHandler
// The router takes the engine's requests and Node's alike, and hands them to handlers typed by
// their authors; it only passes them along.
export type RequestHandler = (req: never, res: never, next: NextFunction) => unknown
export type ErrorHandler = (err: unknown, req: never, res: never, next: NextFunction) => unknown
type CallableHandler = (...args: unknown[]) => unknown

/** What a layer knows of the route it dispatches to (lib/router/route.ts). */
export interface RouteEntry {
  readonly methods: Record<string, boolean>
  _handlesMethod(method: string): boolean
  _methods(): string[]
  dispatch(req: object, res: object, done: NextFunction): void
}

export interface LayerOptions {
  sensitive?: boolean
  strict?: boolean
  end?: boolean
}

export interface LayerMatch {
  params: Params
  path: string
  keys: string[]
}

export type PathSpec = string | RegExp | Array<string | RegExp>

const TRAILING_SLASH = /\/+$/
const EMPTY_MATCH: LayerMatch = Object.freeze({ params: Object.freeze({}), path: '', keys: [] })

function decodeParam(value: string): string {
  // nothing to decode without a `%` (decodeURIComponent would return the same string)
  if (typeof value !== 'string' || value.length === 0 || value.indexOf('%') === -1) return value
  try {
    return decodeURIComponent(value)
  } catch (err) {
    if (err instanceof URIError) {
      err.message = `Failed to decode param '${value}'`
      Object.assign(err, { status: 400 })
    }
    throw err
  }
}

/**
 * The param name of each capturing group of `re`, in order: a named group gives its name, an
 * unnamed one the next number from 0 (so `(?<id>\d+)/(a|b)` gives `id` and `0`, as in router@2).
 */
function captureNames(re: RegExp): Array<string | number> {
  const source = re.source
  const names: Array<string | number> = []
  let unnamed = 0
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') i++
    else if (inClass) inClass = c !== ']'
    else if (c === '[') inClass = true
    else if (c === '(') {
      if (source[i + 1] !== '?') names.push(unnamed++)
      else if (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
        names.push(source.slice(i + 3, source.indexOf('>', i + 3)))
      }
    }
  }
  return names
}

function compileMatcher(path: string | RegExp, options: LayerOptions): (p: string) => LayerMatch | false {
  if (path instanceof RegExp) {
    const names = captureNames(path)
    return (p) => {
      const m = path.exec(p)
      if (!m) return false
      // groups that took no part in the match leave no param, as in router@2
      const params: Params = {}
      for (let i = 1; i < m.length; i++) {
        if (m[i] !== undefined) params[names[i - 1] ?? i - 1] = decodeParam(m[i])
      }
      return { params, path: m[0], keys: Object.keys(params) }
    }
  }
  const source = options.strict || path === '/' ? path : String(path).replace(TRAILING_SLASH, '')
  const fn: MatchFunction<Params> = compile(source, {
    sensitive: options.sensitive,
    end: options.end,
    trailing: !options.strict,
    decode: decodeParam,
  })
  return (p) => {
    const m = fn(p)
    if (!m) return false
    const params = m.params
    return { params, path: m.path, keys: Object.keys(params) }
  }
}

export class Layer {
  readonly handle: Handler
  readonly name: string
  /** The path as registered, for mirroring into the engine's table. */
  readonly spec: PathSpec
  readonly end: boolean
  route: RouteEntry | undefined = undefined
  method: string | undefined = undefined
  private readonly slash: boolean
  private readonly matchers: Array<(p: string) => LayerMatch | false>

  constructor(path: PathSpec, options: LayerOptions, fn: Handler) {
    this.handle = fn
    this.name = fn.name || '<anonymous>'
    this.spec = path
    this.end = options.end !== false
    this.slash = path === '/' && options.end === false
    this.matchers = (Array.isArray(path) ? path : [path]).map((p) => compileMatcher(p, options))
  }

  /** Match result, or false; throws a 400-status error for a param that cannot be decoded. */
  match(path: string): LayerMatch | false {
    if (this.slash) return { params: {}, path: '', keys: EMPTY_MATCH.keys }
    for (let i = 0; i < this.matchers.length; i++) {
      const m = this.matchers[i](path)
      if (m) return m
    }
    return false
  }

  handleRequest(req: object, res: object, next: NextFunction): void {
    const fn = this.handle as CallableHandler
    if (fn.length > 3) {
      next()
      return
    }
    try {
      const ret = fn(req, res, next)
      if (isThenable(ret)) ret.then(null, (error: unknown) => next(error || new Error('Rejected promise')))
    } catch (err) {
      next(err)
    }
  }

  handleError(error: unknown, req: object, res: object, next: NextFunction): void {
    const fn = this.handle as CallableHandler
    if (fn.length !== 4) {
      next(error)
      return
    }
    try {
      const ret = fn(error, req, res, next)
      if (isThenable(ret)) ret.then(null, (err: unknown) => next(err || new Error('Rejected promise')))
    } catch (err) {
      next(err)
    }
  }
}

/** A promise, or anything with a `then` that the router treats as one (as router@2 does). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
}
