// The Express 5 application: settings, the root router, handle() and listen().
import { EventEmitter } from 'node:events'
import { resolve } from 'node:path'
import { parse as parseSimpleQuery } from 'node:querystring'
import etag from 'etag'
import finalhandler from 'finalhandler'
import qs from 'qs'
import { HttpServer } from './engine/server'
import { compilePlan, defineRateLimitProperty, formatPlan, type NativePlanReport } from './prelude'
import { adoptPrototypes, definePrototypes, kRequestClass, kResponseClass } from './prototypes'
import { createRouter, type Router } from './router'
import { methods } from './router/methods'
import type { Layer } from './router/layer'
import { kETagMode, kPrelude } from './symbols'
import { compileTrust } from './utils'
import { View } from './view'

export interface Application {
  (req: any, res: any, next?: (err?: any) => void): void
  settings: Record<string, any>
  cache: Record<string, any>
  engines: Record<string, any>
  locals: Record<string, any>
  mountpath: string | string[]
  parent?: Application
  router: Router
  /** This app's req/res prototypes (Express's app.request / app.response). */
  request: object
  response: object
  [key: string]: any
}

function compileETag(value: any) {
  if (typeof value === 'function') return value
  if (value === true || value === 'weak') return createETagGenerator(true)
  if (value === false) return undefined
  if (value === 'strong') return createETagGenerator(false)
  throw new TypeError('unknown value for etag function: ' + value)
}

function createETagGenerator(weak: boolean) {
  const generateETag = function generateETag(body: any, encoding?: BufferEncoding) {
    const buf = !Buffer.isBuffer(body) ? Buffer.from(body, encoding) : body
    return etag(buf, { weak })
  }
  // The same tag, byte for byte, can be computed by the engine off the JS thread.
  ;(generateETag as any)[kETagMode] = weak ? 1 : 2
  return generateETag
}

function compileQueryParser(value: any) {
  if (typeof value === 'function') return value
  if (value === true || value === 'simple') return parseSimpleQuery
  if (value === false) return undefined
  if (value === 'extended') return (str: string) => qs.parse(str, { allowPrototypes: true })
  throw new TypeError('unknown value for query parser function: ' + value)
}

// Express's own logger (no types of its own): DEBUG=xypriss:native prints the native prelude at listen.
const debugNative = (require('debug') as (namespace: string) => { (format: string, ...args: unknown[]): void; enabled: boolean })(
  'xypriss:native',
)

/** Marks settings whose 'trust proxy' is still the default, so a mounted app inherits its parent's. */
const trustProxyDefaultSymbol = '@@symbol:trust_proxy_default'

const app: any = {}

app.init = function init(this: Application) {
  this.cache = Object.create(null)
  this.engines = Object.create(null)
  // Prototype-less as Express's, but made so V8 keeps it in fast mode (Object.create(null) starts as a
  // dictionary): res.json/res.send read settings on every request.
  this.settings = Object.setPrototypeOf({}, null)
  this.servers = new Set<HttpServer>()
  definePrototypes(this)
  this.defaultConfiguration()
  let router: Router | undefined
  Object.defineProperty(this, 'router', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (router === undefined) {
        router = createRouter({ caseSensitive: this.enabled('case sensitive routing'), strict: this.enabled('strict routing') })
        router.onChange = () => this.mirrorRoutes()
      }
      return router
    },
  })
}

app.defaultConfiguration = function defaultConfiguration(this: Application) {
  const env = process.env.NODE_ENV || 'development'
  this.enable('x-powered-by')
  this.set('etag', 'weak')
  this.set('env', env)
  this.set('query parser', 'simple')
  this.set('subdomain offset', 2)
  this.set('trust proxy', false)

  // trust proxy inherit back-compat
  Object.defineProperty(this.settings, trustProxyDefaultSymbol, { configurable: true, value: true })

  this.on('mount', function onmount(this: Application, parent: Application) {
    // inherit trust proxy, unless set on this app
    if (this.settings[trustProxyDefaultSymbol] === true && typeof parent.settings['trust proxy fn'] === 'function') {
      delete this.settings['trust proxy']
      delete this.settings['trust proxy fn']
    }
    // inherit the parent's request/response extensions, settings and engines
    Object.setPrototypeOf(this.request, parent.request)
    Object.setPrototypeOf(this.response, parent.response)
    Object.setPrototypeOf(this.engines, parent.engines)
    Object.setPrototypeOf(this.settings, parent.settings)
  })

  this.locals = Object.create(null)
  this.mountpath = '/'
  this.locals.settings = this.settings

  this.set('view', View)
  this.set('views', resolve('views'))
  this.set('jsonp callback name', 'callback')
  if (env === 'production') this.enable('view cache')
}

app.handle = function handle(this: Application, req: any, res: any, callback?: (err?: any) => void) {
  const done =
    callback ||
    ((err?: any) => finalhandler(req, res, { env: this.get('env'), onerror: logError.bind(this) })(err))
  // A request the native prelude ran for has its X-Powered-By (or not, after helmet) already.
  if (this.settings['x-powered-by'] && req[kPrelude]?.app !== this) res.setHeader('X-Powered-By', 'Express')
  adoptPrototypes(req, res, this)
  req.res = res
  res.req = req
  req.app = this
  res.app = this
  if (!res.locals) res.locals = Object.create(null)
  this.router.handle(req, res, done)
}

app.use = function use(this: Application, fn: any, ...rest: any[]) {
  let offset = 0
  let path: any = '/'
  if (typeof fn !== 'function') {
    let arg = fn
    while (Array.isArray(arg) && arg.length !== 0) arg = arg[0]
    if (typeof arg !== 'function') {
      offset = 1
      path = fn
    }
  }
  const fns = [fn, ...rest].slice(offset).flat(Infinity)
  if (fns.length === 0) throw new TypeError('app.use() requires a middleware function')
  for (const f of fns) {
    // anything but an app goes to the router, which rejects what is not a function
    if (typeof f !== 'function' || !f.handle || !f.set) {
      this.router.use(path, f)
      continue
    }
    // a sub-app
    const subApp = f as Application
    subApp.mountpath = path
    subApp.parent = this
    this.router.use(path, function mounted_app(req: any, res: any, next: any) {
      const orig = req.app
      const reqProto = Object.getPrototypeOf(req)
      const resProto = Object.getPrototypeOf(res)
      subApp.handle(req, res, (err?: any) => {
        if (Object.getPrototypeOf(req) !== reqProto) Object.setPrototypeOf(req, reqProto)
        if (Object.getPrototypeOf(res) !== resProto) Object.setPrototypeOf(res, resProto)
        req.app = orig
        res.app = orig
        next(err)
      })
    })
    subApp.emit('mount', this)
  }
  return this
}

app.route = function route(this: Application, path: any) {
  return this.router.route(path)
}

app.param = function param(this: Application, name: string | string[], fn: any) {
  if (Array.isArray(name)) {
    for (const n of name) this.param(n, fn)
    return this
  }
  this.router.param(name, fn)
  return this
}

app.set = function set(this: Application, setting: string, value?: any) {
  if (arguments.length === 1) return this.settings[setting]
  this.settings[setting] = value
  switch (setting) {
    case 'etag':
      this.set('etag fn', compileETag(value))
      break
    case 'query parser':
      this.set('query parser fn', compileQueryParser(value))
      break
    case 'trust proxy':
      this.set('trust proxy fn', compileTrust(value))
      // trust proxy inherit back-compat
      Object.defineProperty(this.settings, trustProxyDefaultSymbol, { configurable: true, value: false })
      break
    case 'x-powered-by':
      for (const server of this.servers as Set<HttpServer>) server.native.setPoweredBy(Boolean(value))
      break
  }
  // What the native prelude's answers depend on (see ./prelude.ts).
  if (PRELUDE_SETTINGS.has(setting) && (this.servers as Set<HttpServer>).size !== 0) this.mirrorRoutes()
  return this
}

const PRELUDE_SETTINGS = new Set(['etag', 'trust proxy', 'json replacer', 'json spaces', 'json escape'])

/**
 * Registers the template engine `fn(path, options, callback)` for files ending in `ext`.
 */
app.engine = function engine(this: Application, ext: string, fn: any) {
  if (typeof fn !== 'function') throw new Error('callback function required')
  const extension = ext[0] !== '.' ? '.' + ext : ext
  this.engines[extension] = fn
  return this
}

/**
 * Renders the view `name` with `options` (merged over app.locals and `options._locals`), calling
 * `callback(err, html)`; `res.render` calls this with the response's locals in `_locals`.
 */
app.render = function render(this: Application, name: string, options?: any, callback?: (err: any, html?: string) => void) {
  const cache = this.cache
  let done = callback as (err: any, html?: string) => void
  const engines = this.engines
  let opts = options || {}
  let view: any

  if (typeof options === 'function') {
    done = options
    opts = {}
  }

  const renderOptions = { ...this.locals, ...opts._locals, ...opts }

  if (renderOptions.cache == null) renderOptions.cache = this.enabled('view cache')

  if (renderOptions.cache) view = cache[name]

  if (!view) {
    const ViewClass = this.get('view')
    view = new ViewClass(name, {
      defaultEngine: this.get('view engine'),
      root: this.get('views'),
      engines,
    })

    if (!view.path) {
      const dirs =
        Array.isArray(view.root) && view.root.length > 1
          ? 'directories "' + view.root.slice(0, -1).join('", "') + '" or "' + view.root[view.root.length - 1] + '"'
          : 'directory "' + view.root + '"'
      const err: any = new Error('Failed to lookup view "' + name + '" in views ' + dirs)
      err.view = view
      return done(err)
    }

    if (renderOptions.cache) cache[name] = view
  }

  try {
    view.render(renderOptions, done)
  } catch (err) {
    done(err)
  }
}

app.path = function path(this: Application): string {
  return this.parent ? this.parent.path() + this.mountpath : ''
}

app.enabled = function enabled(this: Application, setting: string) {
  return Boolean(this.set(setting))
}
app.disabled = function disabled(this: Application, setting: string) {
  return !this.set(setting)
}
app.enable = function enable(this: Application, setting: string) {
  return this.set(setting, true)
}
app.disable = function disable(this: Application, setting: string) {
  return this.set(setting, false)
}

for (const method of methods) {
  app[method] = function (this: Application, path: any, ...handlers: any[]) {
    if (method === 'get' && handlers.length === 0) return this.set(path)
    const route = this.route(path)
    route[method](...handlers)
    return this
  }
}

app.all = function all(this: Application, path: any, ...handlers: any[]) {
  const route = this.route(path)
  for (const method of methods) route[method](...handlers)
  return this
}

/**
 * An engine server whose listener is `app`, registered with the app so its route table is mirrored
 * into the engine and 'x-powered-by' changes reach it: what app.listen() and createHttpServer(app) use.
 */
export function createAppServer(application: Application): HttpServer {
  const server = new HttpServer(application as any)
  // requests come built on this app's prototypes: no switch when it handles them
  server.requestClass = (application as any)[kRequestClass]
  server.responseClass = (application as any)[kResponseClass]
  application.servers.add(server)
  server.once('close', () => application.servers.delete(server))
  application.mirrorRoutes(server)
  return server
}

app.listen = function listen(this: Application, ...args: any[]) {
  const server = createAppServer(this)
  if (debugNative.enabled) debugNative('%s', formatPlan(this.nativePlan()))
  if (typeof args[args.length - 1] === 'function') {
    const cb = args[args.length - 1]
    let called = false
    const once = (...a: any[]) => {
      if (called) return
      called = true
      cb.apply(server, a)
    }
    args[args.length - 1] = once
    server.once('error', once)
  }
  return server.listen(...args)
}

/**
 * Mirrors the root stack into each listening engine so it can answer what nothing matches
 * (Express's 404) without waking JS, and hands it the native prelude: the leading helmet / cors /
 * rateLimit layers it runs itself (./prelude.ts), which the mirror then leaves out. Anything the
 * table cannot model turns the mirror off; the prelude stays.
 */
app.mirrorRoutes = function mirrorRoutes(this: Application, only?: HttpServer) {
  const targets = only ? [only] : [...(this.servers as Set<HttpServer>)]
  if (targets.length === 0) return
  const plan = compilePlan(this)
  for (const limiter of plan.rateLimits) defineRateLimitProperty(this.request, limiter.property)
  for (const server of targets) {
    const engine = server.native
    engine.setPoweredBy(this.enabled('x-powered-by'))
    if (!server.routesMirrorable) continue
    const router = this.router
    engine.resetRoutes(router.caseSensitive, router.strict, router.version)
    router.mirrored = true
    try {
      router.stack.forEach((layer: Layer, index: number) => {
        if (!layer.route && layer.handle.length === 4) return // error handlers never match a clean request
        if (plan.native !== undefined && plan.indices.includes(index)) return // run by the prelude
        // A string and a one-element array differ, as in Express: '/' matches every path, ['/'] only '/'.
        const spec = layer.spec
        const paths = Array.isArray(spec) ? spec.flat(Infinity) : spec
        if (typeof paths !== 'string' && !(Array.isArray(paths) && paths.every((p) => typeof p === 'string'))) {
          throw new Error('RegExp paths are matched in JS')
        }
        const methodNames: string[] = layer.route ? layer.route._methods() : ['ALL']
        if (layer.route && layer.route.methods._all) methodNames.push('ALL')
        engine.insertRoute(index, paths as string | string[], layer.end, methodNames)
      })
    } catch {
      engine.disableRoutes()
    }
    if (plan.native === undefined) {
      engine.clearPrelude()
      continue
    }
    // Requests already on their way carry older plans: keep a few.
    server.preludePlans.set(plan.id, plan)
    for (const id of server.preludePlans.keys()) {
      if (server.preludePlans.size <= 64) break
      server.preludePlans.delete(id)
    }
    engine.setPrelude(plan.native)
  }
}

/** Which leading middleware run natively before JS when the app listens, and why the others do not. */
app.nativePlan = function nativePlan(this: Application): NativePlanReport {
  return compilePlan(this).report
}

function logError(this: Application, err: any) {
  if (this.get('env') !== 'test') console.error(err.stack || err.toString())
}

export function createApplication(): Application {
  const application = function (req: any, res: any, next?: (err?: any) => void) {
    application.handle(req, res, next)
  } as Application
  Object.setPrototypeOf(application, Object.assign(Object.create(Function.prototype), EventEmitter.prototype, app))
  EventEmitter.call(application as any)
  application.init()
  return application
}

export const applicationPrototype = app
