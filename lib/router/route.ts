// A route: one path, handlers per method (Express 5 / router@2 semantics).
import { errors } from '../errors'
import type { NextFunction } from '../types'
import { type Handler, Layer, type PathSpec, type RouteEntry } from './layer'
import { lowerMethod, methods } from './methods'

/** `route.get(...)`, `route.post(...)`...: one per HTTP method, added below. */
export type RouteMethod = (this: Route, ...handlers: unknown[]) => Route

export class Route implements RouteEntry {
  readonly path: PathSpec
  readonly stack: Layer[] = []
  methods: Record<string, boolean> = Object.create(null)
  /** Called when the set of methods changes, so a mirrored table can follow. */
  onChange: (() => void) | undefined = undefined;
  [method: string]: unknown

  constructor(path: PathSpec) {
    this.path = path
  }

  _handlesMethod(method: string): boolean {
    if (this.methods._all) return true
    let name = typeof method === 'string' ? lowerMethod(method) : method
    if (name === 'head' && !this.methods.head) name = 'get'
    return Boolean(this.methods[name])
  }

  _methods(): string[] {
    const list = Object.keys(this.methods)
    if (this.methods.get && !this.methods.head) list.push('head')
    return list.map((m) => m.toUpperCase())
  }

  dispatch(req: { method: string; route?: unknown }, res: object, done: NextFunction): void {
    let idx = 0
    const stack = this.stack
    let sync = 0
    if (stack.length === 0) {
      done()
      return
    }
    let method: unknown = typeof req.method === 'string' ? lowerMethod(req.method) : req.method
    if (method === 'head' && !this.methods.head) method = 'get'
    req.route = this
    next()

    function next(err?: unknown): void {
      if (err && err === 'route') {
        done()
        return
      }
      if ((err && err === 'router') || idx >= stack.length) {
        done(err)
        return
      }
      if (++sync > 100) {
        setImmediate(next, err)
        return
      }
      let layer: Layer | undefined
      let match = false
      while (!match && idx < stack.length) {
        layer = stack[idx++]
        match = !layer.method || layer.method === method
      }
      if (!match) {
        done(err)
        return
      }
      if (err) layer!.handleError(err, req, res, next)
      else layer!.handleRequest(req, res, next)
      sync = 0
    }
  }

  all(...handlers: unknown[]): this {
    return this.addHandlers('_all', undefined, handlers)
  }

  private addHandlers(key: string, method: string | undefined, handlers: unknown[]): this {
    const list = handlers.flat(Infinity)
    if (list.length === 0) throw new TypeError('argument handler is required')
    for (const handle of list) {
      if (typeof handle !== 'function') throw errors.handlerRequired(method ?? 'all', Object.prototype.toString.call(handle))
      const layer = new Layer('/', {}, handle as Handler)
      layer.method = method
      this.methods[key] = true
      this.stack.push(layer)
    }
    this.onChange?.()
    return this
  }

  static {
    for (const method of methods) {
      const addMethod: RouteMethod = function (this: Route, ...handlers: unknown[]) {
        return this.addHandlers(method, method, handlers)
      }
      Route.prototype[method] = addMethod
    }
  }
}
