// Router: the middleware/route stack and its dispatch, with Express 5 (router@2) semantics:
// mounted paths strip `req.url`, `next('route')` / `next('router')`, error layers, params,
// rejected promises reaching `next(err)`, and the automatic OPTIONS response.
import { parseUrl } from '../request'
import { kCandidates, kParsedUrl, kPrelude } from '../symbols'
import type { TargetReading } from '../target'
import type { NextFunction, Params } from '../types'
import { type Handler, Layer, type LayerMatch, type PathSpec, type RouteEntry } from './layer'
import { methods } from './methods'
import { type ParamCall, type ParamHandler, processParams } from './params'
import { Route, type RouteMethod } from './route'

export type { ParamHandler }

/** What the router reads and sets on a request: the engine's, or Node's under `http.createServer(app)`. */
export interface RoutedRequest {
  url: string
  method: string
  baseUrl: string
  originalUrl: string
  params: Params
  next?: NextFunction
  route?: unknown
  [kParsedUrl]: TargetReading | undefined
  /** The engine's matching layers for this request, `[stackVersion, index, ...]`. */
  [kCandidates]?: number[]
  /** The native prelude's plan when the engine ran a router's leading layers (see ../prelude.ts). */
  [kPrelude]?: object
}

/** What the router needs of a native prelude's plan: which of its layers the engine ran. */
export interface CompiledLayers {
  router: unknown
  /** The layers, in stack order, and their stack indices when compiled. */
  layers: Layer[]
  indices: number[]
  /** The first stack index after them. */
  resume: number
  /** Called when the stack no longer has them where they were compiled (changed behind the router's back). */
  stale?(): void
}

/** What the automatic OPTIONS answer writes. */
export interface RoutedResponse {
  setHeader(name: string, value: string | number): unknown
  end(chunk: string): unknown
}


export interface RouterOptions {
  caseSensitive?: boolean
  mergeParams?: boolean
  strict?: boolean
}

export interface Router {
  (req: RoutedRequest, res: RoutedResponse, next: NextFunction): void
  stack: Layer[]
  params: Record<string, ParamHandler[]>
  caseSensitive: boolean
  mergeParams: boolean
  strict: boolean
  /** Called after the stack or a route's methods change (the app mirrors it natively). */
  onChange: (() => void) | undefined
  /** Bumped on every change, so a match the engine computed for an older stack is ignored. */
  version: number
  /** The engine mirrors this router: requests may carry its matching layers. */
  mirrored: boolean
  handle(req: RoutedRequest, res: RoutedResponse, callback: NextFunction): void
  use(...args: unknown[]): Router
  route(path: PathSpec): Route
  param(name: string, fn: ParamHandler): Router
  /** `router.get(path, ...handlers)` and the other HTTP methods, `router.all(...)`. */
  [method: string]: unknown
}

export function createRouter(options: RouterOptions = {}): Router {
  const router = function router(req: RoutedRequest, res: RoutedResponse, next: NextFunction) {
    ;(router as Router).handle(req, res, next)
  } as Router
  // Express's name, which stack inspections look for (the bundler renames the function)
  Object.defineProperty(router, 'name', { value: 'router' })
  Object.setPrototypeOf(router, routerProto)
  router.caseSensitive = Boolean(options.caseSensitive)
  router.mergeParams = Boolean(options.mergeParams)
  router.strict = Boolean(options.strict)
  router.params = {}
  router.stack = []
  router.onChange = undefined
  router.version = 0
  router.mirrored = false
  return router
}

const routerProto: Record<string, unknown> = Object.create(Function.prototype)

routerProto.param = function param(this: Router, name: string, fn: ParamHandler): Router {
  if (!name) throw new TypeError('argument name is required')
  if (typeof name !== 'string') throw new TypeError('argument name must be a string')
  if (!fn) throw new TypeError('argument fn is required')
  if (typeof fn !== 'function') throw new TypeError('argument fn must be a function')
  ;(this.params[name] ??= []).push(fn)
  return this
}

routerProto.use = function use(this: Router, handler: unknown, ...rest: unknown[]): Router {
  let offset = 0
  let path: PathSpec = '/'
  const args = [handler, ...rest]
  if (typeof handler !== 'function') {
    let arg = handler
    while (Array.isArray(arg) && arg.length !== 0) arg = arg[0]
    if (typeof arg !== 'function') {
      offset = 1
      path = handler as PathSpec
    }
  }
  const callbacks: unknown[] = args.slice(offset).flat(Infinity)
  if (callbacks.length === 0) throw new TypeError('argument handler is required')
  for (const fn of callbacks) {
    if (typeof fn !== 'function') throw new TypeError('argument handler must be a function')
    const layer = new Layer(path, { sensitive: this.caseSensitive, strict: false, end: false }, fn as Handler)
    this.stack.push(layer)
  }
  this.version++
  this.onChange?.()
  return this
}

routerProto.route = function route(this: Router, path: PathSpec): Route {
  const route = new Route(path)
  const layer = new Layer(path, { sensitive: this.caseSensitive, strict: this.strict, end: true }, function handle(req: RoutedRequest, res: object, next: NextFunction) {
    route.dispatch(req, res, next)
  } as Handler)
  layer.route = route
  route.onChange = () => {
    this.version++
    this.onChange?.()
  }
  this.stack.push(layer)
  this.version++
  this.onChange?.()
  return route
}

for (const method of [...methods, 'all']) {
  routerProto[method] = function (this: Router, path: PathSpec, ...handlers: unknown[]) {
    const route = this.route(path)
    ;(route[method] as RouteMethod).apply(route, handlers)
    return this
  }
}

routerProto.handle = function handle(this: Router, req: RoutedRequest, res: RoutedResponse, callback: NextFunction): void {
  if (!callback) throw new TypeError('argument callback is required')
  let idx = 0
  let options: string[] | undefined
  const protohost = getProtohost(req.url) || ''
  let removed = ''
  let slashAdded = false
  let sync = 0
  // made on the first param() callback this dispatch runs
  let paramcalled: Record<string, ParamCall> | undefined
  const self = this
  const stack = this.stack
  const parentParams = req.params
  const parentUrl = req.baseUrl || ''
  // The layers the engine found matching this path: only for the stack it mirrored, at the
  // version it mirrored, and only while nothing rewrites req.url. Error handlers are not
  // mirrored, so while an error is pending the stack is scanned as usual.
  let candidates: number[] | undefined
  let candidateAt = 1
  const engineMatch = req[kCandidates]
  if (engineMatch !== undefined) {
    req[kCandidates] = undefined
    if (this.mirrored && engineMatch[0] === this.version) candidates = engineMatch
  }
  const candidateUrl = req.url
  // The engine's native prelude ran this router's leading layers for this request: they are
  // skipped, once (a request dispatched again runs them in JS, as Express would).
  let compiled: Layer[] | undefined
  const plan = req[kPrelude] as CompiledLayers | undefined
  if (plan !== undefined && plan.router === this) {
    req[kPrelude] = undefined
    let inPlace = true
    for (let i = 0; i < plan.indices.length; i++) inPlace &&= stack[plan.indices[i]] === plan.layers[i]
    if (inPlace) idx = plan.resume
    else {
      compiled = plan.layers
      plan.stale?.()
    }
  }
  // the callback, once the values these had on entry are put back
  const savedBaseUrl = req.baseUrl
  const savedNext = req.next
  let done: NextFunction = function (this: unknown, ...args: [err?: unknown]) {
    req.baseUrl = savedBaseUrl
    req.next = savedNext
    req.params = parentParams
    return callback.apply(this, args)
  }
  req.next = next
  if (req.method === 'OPTIONS') {
    const methodsSeen: string[] = []
    options = methodsSeen
    const inner = done
    done = (err?: unknown) => {
      if (err || methodsSeen.length === 0) return inner(err)
      sendOptionsResponse(res, methodsSeen)
    }
  }
  req.baseUrl = parentUrl
  req.originalUrl = req.originalUrl || req.url
  next()

  function next(err?: unknown): void {
    let layerError = err === 'route' ? null : err
    if (slashAdded) {
      const pathIsRoot = req.url === '/' || req.url.startsWith('/?')
      if (pathIsRoot || (removed.endsWith('/') && req.url[0] === '/')) req.url = req.url.slice(1)
      slashAdded = false
    }
    if (removed.length !== 0) {
      req.baseUrl = parentUrl
      req.url = protohost + removed + req.url.slice(protohost.length)
      removed = ''
    }
    if (layerError === 'router') {
      setImmediate(done, null)
      return
    }
    if (idx >= stack.length) {
      setImmediate(done, layerError)
      return
    }
    if (++sync > 100) {
      setImmediate(next, err)
      return
    }
    // no path to match (req.url missing or empty, as parseurl sees it): nothing in this stack runs
    const path = typeof req.url === 'string' ? parseUrl(req).pathname : null
    if (path === null) {
      done(layerError)
      return
    }
    if (candidates !== undefined && req.url !== candidateUrl) candidates = undefined
    let layer: Layer | undefined
    let match: LayerMatch | false = false
    let route: RouteEntry | undefined
    while (!match && idx < stack.length) {
      if (candidates !== undefined && !layerError) {
        while (candidateAt < candidates.length && candidates[candidateAt] < idx) candidateAt++
        if (candidateAt >= candidates.length) {
          idx = stack.length
          break
        }
        idx = candidates[candidateAt]
      }
      layer = stack[idx++]
      if (compiled?.includes(layer)) continue
      route = layer.route
      try {
        match = layer.match(path)
      } catch (e) {
        layerError = layerError || e
        match = false
      }
      if (!match) continue
      if (!route) continue
      if (layerError) {
        match = false
        continue
      }
      const method = req.method
      const hasMethod = route._handlesMethod(method)
      if (!hasMethod && method === 'OPTIONS' && options) options.push(...route._methods())
      if (!hasMethod && method !== 'HEAD') match = false
    }
    if (!match) {
      done(layerError)
      return
    }
    const matched = match
    const matchedLayer = layer!
    if (route) req.route = route
    req.params = self.mergeParams ? mergeParams(matched.params, parentParams) : matched.params
    if (!hasParamCallbacks(self.params, matched.keys)) {
      afterParams(undefined, matchedLayer, route, layerError, matched.path, path)
      return
    }
    paramcalled ??= {}
    processParams(self.params, matched.keys, paramcalled, req, res, (e?: unknown) => afterParams(e, matchedLayer, route, layerError, matched.path, path))
  }

  function afterParams(e: unknown, layer: Layer, route: RouteEntry | undefined, layerError: unknown, layerPath: string, path: string): void {
    if (e) next(layerError || e)
    else if (route) layer.handleRequest(req, res, next)
    else trimPrefix(layer, layerError, layerPath, path)
    sync = 0
  }

  function trimPrefix(layer: Layer, layerError: unknown, layerPath: string, path: string): void {
    if (layerPath.length !== 0) {
      if (layerPath !== path.substring(0, layerPath.length)) {
        next(layerError)
        return
      }
      const c = path[layerPath.length]
      if (c && c !== '/') {
        next(layerError)
        return
      }
      removed = layerPath
      req.url = protohost + req.url.slice(protohost.length + removed.length)
      if (!protohost && req.url[0] !== '/') {
        req.url = '/' + req.url
        slashAdded = true
      }
      req.baseUrl = parentUrl + (removed[removed.length - 1] === '/' ? removed.substring(0, removed.length - 1) : removed)
    }
    if (layerError) layer.handleError(layerError, req, res, next)
    else layer.handleRequest(req, res, next)
  }
}

function getProtohost(url: string): string | undefined {
  if (typeof url !== 'string' || url.length === 0 || url[0] === '/') return undefined
  const searchIndex = url.indexOf('?')
  const pathLength = searchIndex !== -1 ? searchIndex : url.length
  const fqdnIndex = url.substring(0, pathLength).indexOf('://')
  return fqdnIndex !== -1 ? url.substring(0, url.indexOf('/', 3 + fqdnIndex)) : undefined
}

function mergeParams(params: Params, parent: unknown): Params {
  if (typeof parent !== 'object' || !parent) return params
  const obj = Object.assign({}, parent)
  if (!(0 in params) || !(0 in parent)) return Object.assign(obj, params)
  let i = 0
  let o = 0
  while (i in params) i++
  while (o in parent) o++
  for (i--; i >= 0; i--) {
    params[i + o] = params[i]
    if (i < o) delete params[i]
  }
  return Object.assign(obj, params)
}

/** Whether app.param()/router.param() gave callbacks for any of `keys` (most routes have none). */
function hasParamCallbacks(params: Record<string, ParamHandler[]>, keys: string[]): boolean {
  for (let i = 0; i < keys.length; i++) if (params[keys[i]]) return true
  return false
}

function sendOptionsResponse(res: RoutedResponse, methodsSeen: string[]): void {
  const allow = [...new Set(methodsSeen)].sort().join(', ')
  res.setHeader('Allow', allow)
  res.setHeader('Content-Length', Buffer.byteLength(allow))
  res.setHeader('Content-Type', 'text/plain')
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.end(allow)
}

export { Route, Layer }
