// The Express 5 application: settings, the root router, handle() and listen().
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse as NodeServerResponse } from 'node:http'
import { resolve } from 'node:path'
import finalhandler from 'finalhandler'
import { HttpServer, type ServerOptions } from './engine/server'
import { listenOnWorkers, workerCount } from './engine/workers'
import { adoptPrototypes, definePrototypes, kRequestClass, kResponseClass, type PrototypeOwner } from './prototypes'
import { compilePlan, defineRateLimitProperty, formatPlan, installPlan, type NativePlanReport, type Plan } from './prelude'
import { mirrorStack, POWERED_BY, setNotFoundPage } from './route-mirror'
import { createRouter, type ParamHandler, type RoutedRequest, type RoutedResponse, type Router } from './router'
import type { PathSpec } from './router/layer'
import { methods } from './router/methods'
import type { Route, RouteMethod } from './router/route'
import { kPrelude } from './symbols'
import type { AppContext, NextFunction, RenderCallback, SettingValue, TemplateEngine } from './types'
import { compileETag, compileQueryParser, compileTrust } from './utils'
import { View } from './view'

/** A request as the app handles it, the engine's or Node's: the app links it to its response and itself. */
type AppRequest = RoutedRequest & { app?: Application; res?: AppResponse }
type AppResponse = RoutedResponse & { app?: Application; req?: AppRequest; locals?: Record<string, unknown> }

export interface Application extends EventEmitter, AppContext, PrototypeOwner {
  (req: object, res: object, next?: NextFunction): void
  settings: Record<string, unknown>
  cache: Record<string, View>
  engines: Record<string, TemplateEngine>
  locals: Record<string, unknown>
  mountpath: PathSpec
  parent?: Application
  router: Router
  /** The engine servers listening for this app (their native 404 follows 'x-powered-by'). */
  servers: Set<HttpServer>
  init(): void
  defaultConfiguration(): void
  handle(req: object, res: object, callback?: NextFunction): void
  use(...args: unknown[]): Application
  route(path: PathSpec): Route
  param(name: string | string[], fn: ParamHandler): Application
  set(setting: string, ...value: [unknown?]): unknown
  get<K extends string>(setting: K): SettingValue<K>
  get(path: PathSpec, ...handlers: unknown[]): Application
  engine(ext: string, fn: TemplateEngine): Application
  render(name: string, options?: Record<string, unknown> | RenderCallback, callback?: RenderCallback): void
  path(): string
  enabled(setting: string): boolean
  disabled(setting: string): boolean
  enable(setting: string): Application
  disable(setting: string): Application
  all(path: PathSpec, ...handlers: unknown[]): Application
  listen(...args: unknown[]): HttpServer
  mirrorRoutes(only?: HttpServer): void
  /** Which leading middleware run natively before JS, and why the others do not. */
  nativePlan(): NativePlanReport
  /** `app.post(path, ...handlers)` and the other HTTP methods. */
  [method: string]: unknown
}

// Express's own logger (no types of its own): DEBUG=xypriss:native prints the native prelude at listen.
const debugNative = (require('debug') as (namespace: string) => { (format: string, ...args: unknown[]): void; enabled: boolean })('xypriss:native')

/** Marks settings whose 'trust proxy' is still the default, so a mounted app inherits its parent's. */
const trustProxyDefaultSymbol = '@@symbol:trust_proxy_default'

const app: Record<string, unknown> = {}

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

app.handle = function handle(this: Application, req: AppRequest, res: AppResponse, callback?: NextFunction) {
  const done =
    callback ||
    ((err?: unknown) =>
      // finalhandler reads and writes only what the engine's req/res have as Node's do
      finalhandler(req as unknown as IncomingMessage, res as unknown as NodeServerResponse, {
        env: this.get('env'),
        onerror: logError.bind(this),
      })(err))
  // A request the native prelude ran for has its X-Powered-By (or not, after helmet) already.
  if (this.settings['x-powered-by'] && (req[kPrelude] as Plan | undefined)?.app !== this) res.setHeader('X-Powered-By', POWERED_BY)
  adoptPrototypes(req, res, this)
  req.res = res
  res.req = req
  req.app = this
  res.app = this
  // res.locals: made on first use by the response (Node's too, through app.response)
  this.router.handle(req, res, done)
}

app.use = function use(this: Application, fn: unknown, ...rest: unknown[]) {
  let offset = 0
  let path: PathSpec = '/'
  if (typeof fn !== 'function') {
    let arg = fn
    while (Array.isArray(arg) && arg.length !== 0) arg = arg[0]
    if (typeof arg !== 'function') {
      offset = 1
      path = fn as PathSpec
    }
  }
  const fns: unknown[] = [fn, ...rest].slice(offset).flat(Infinity)
  if (fns.length === 0) throw new TypeError('app.use() requires a middleware function')
  for (const f of fns) {
    // anything but an app goes to the router, which rejects what is not a function
    const maybeApp = f as { handle?: unknown; set?: unknown }
    if (typeof f !== 'function' || !maybeApp.handle || !maybeApp.set) {
      this.router.use(path, f)
      continue
    }
    // a sub-app
    const subApp = f as Application
    subApp.mountpath = path
    subApp.parent = this
    this.router.use(path, function mounted_app(req: AppRequest, res: AppResponse, next: NextFunction) {
      const orig = req.app
      const reqProto = Object.getPrototypeOf(req)
      const resProto = Object.getPrototypeOf(res)
      subApp.handle(req, res, (err?: unknown) => {
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

app.route = function route(this: Application, path: PathSpec) {
  return this.router.route(path)
}

app.param = function param(this: Application, name: string | string[], fn: ParamHandler) {
  if (Array.isArray(name)) {
    for (const n of name) this.param(n, fn)
    return this
  }
  this.router.param(name, fn)
  return this
}

// `set(name)` reads, `set(name, value)` writes (an undefined value included), as Express tells
// them apart by the number of arguments.
app.set = function set(this: Application, setting: string, value?: unknown) {
  // biome-ignore lint/complexity/noArguments: the count of arguments is the API; a rest array would cost every read
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
      for (const server of this.servers) setNotFoundPage(server.native, Boolean(value))
      break
  }
  // What the native prelude's answers depend on (see ./prelude.ts).
  if (PRELUDE_SETTINGS.has(setting) && this.servers.size !== 0) this.mirrorRoutes()
  return this
}

const PRELUDE_SETTINGS = new Set(['etag', 'trust proxy', 'json replacer', 'json spaces', 'json escape'])

/**
 * Registers the template engine `fn(path, options, callback)` for files ending in `ext`.
 */
app.engine = function engine(this: Application, ext: string, fn: TemplateEngine) {
  if (typeof fn !== 'function') throw new Error('callback function required')
  const extension = ext[0] !== '.' ? '.' + ext : ext
  this.engines[extension] = fn
  return this
}

/**
 * Renders the view `name` with `options` (merged over app.locals and `options._locals`), calling
 * `callback(err, html)`; `res.render` calls this with the response's locals in `_locals`.
 */
app.render = function render(
  this: Application,
  name: string,
  options?: Record<string, unknown> | RenderCallback,
  callback?: RenderCallback,
) {
  const cache = this.cache
  let done = callback as RenderCallback
  const engines = this.engines
  let opts = (options || {}) as Record<string, unknown>
  let view: View | undefined

  if (typeof options === 'function') {
    done = options
    opts = {}
  }

  const renderOptions: Record<string, unknown> = { ...this.locals, ...(opts._locals as object), ...opts }

  if (renderOptions.cache == null) renderOptions.cache = this.enabled('view cache')

  if (renderOptions.cache) view = cache[name]

  if (!view) {
    // the 'view' setting is the View class, or an app's own with the same shape
    const ViewClass = this.get('view') as typeof View
    view = new ViewClass(name, {
      defaultEngine: this.get('view engine'),
      root: this.get('views'),
      engines,
    })

    if (!view.path) {
      const root = view.root
      const dirs =
        Array.isArray(root) && root.length > 1
          ? 'directories "' + root.slice(0, -1).join('", "') + '" or "' + root[root.length - 1] + '"'
          : 'directory "' + root + '"'
      done(Object.assign(new Error('Failed to lookup view "' + name + '" in views ' + dirs), { view }))
      return
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
  app[method] = function (this: Application, path: PathSpec, ...handlers: unknown[]) {
    const route = this.route(path)
    ;(route[method] as RouteMethod).apply(route, handlers)
    return this
  }
}

// `app.get(setting)` reads a setting (res.json and res.send do on every response): no rest array then.
const routeGet = app.get as (this: Application, path: PathSpec, ...handlers: unknown[]) => Application
app.get = function get(this: Application, path: PathSpec) {
  // biome-ignore lint/complexity/noArguments: one argument reads a setting, more add a route
  if (arguments.length <= 1) return this.set(path as string)
  // biome-ignore lint/complexity/noArguments: passed on as given
  return routeGet.apply(this, arguments as unknown as [PathSpec, ...unknown[]])
}

app.all = function all(this: Application, path: PathSpec, ...handlers: unknown[]) {
  const route = this.route(path)
  for (const method of methods) (route[method] as RouteMethod).apply(route, handlers)
  return this
}

/**
 * An engine server whose listener is `app`, registered with the app so its route table is mirrored
 * into the engine and 'x-powered-by' changes reach it: what app.listen() and createHttpServer(app) use.
 */
export function createAppServer(application: Application, options?: ServerOptions): HttpServer {
  const server = new HttpServer(options, application)
  // requests come built on this app's prototypes: no switch when it handles them
  server.requestClass = application[kRequestClass]
  server.responseClass = application[kResponseClass]
  application.servers.add(server)
  server.once('close', () => application.servers.delete(server))
  application.mirrorRoutes(server)
  return server
}

app.listen = function listen(this: Application, ...args: unknown[]) {
  const server = createAppServer(this)
  if (debugNative.enabled) debugNative('%s', formatPlan(this.nativePlan()))
  // `{ workers: N }`: the app runs on N worker threads behind this one listener (docs/workers.md)
  const workers = workerCount(args[0])
  if (workers !== undefined) return listenOnWorkers(server, args, workers)
  const cb = args[args.length - 1]
  if (typeof cb === 'function') {
    let called = false
    const once = (...a: unknown[]) => {
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
 * (Express's 404) without waking JS, gives each the page to answer with, and hands it the native
 * prelude: the leading helmet / cors / rateLimit layers it runs itself (./prelude.ts), which the
 * mirror then leaves out. A mirror the table cannot model is off; the prelude stays.
 */
app.mirrorRoutes = function mirrorRoutes(this: Application, only?: HttpServer) {
  const targets = only ? [only] : [...this.servers]
  if (targets.length === 0) return
  const plan = compilePlan(this)
  for (const limiter of plan.rateLimits) defineRateLimitProperty(this.request, limiter.property)
  for (const server of targets) {
    setNotFoundPage(server.native, this.enabled('x-powered-by'))
    // a server whose 'request' listeners changed may not hand requests to this app
    if (!server.routesMirrorable) continue
    mirrorStack(server.native, this.router, plan.native === undefined ? [] : plan.indices)
    installPlan(server, plan)
  }
}

/** Which leading middleware run natively before JS when the app listens, and why the others do not. */
app.nativePlan = function nativePlan(this: Application): NativePlanReport {
  return compilePlan(this).report
}

function logError(this: Application, err: unknown) {
  if (this.get('env') !== 'test') console.error((err as Error).stack || String(err))
}

export function createApplication(): Application {
  // biome-ignore lint/complexity/useArrowFunction: an app is a plain function, as Express's (it has a prototype)
  const application = function (req: object, res: object, next?: NextFunction) {
    application.handle(req, res, next)
  } as Application
  Object.setPrototypeOf(application, Object.assign(Object.create(Function.prototype), EventEmitter.prototype, app))
  EventEmitter.call(application)
  application.init()
  return application
}

export const applicationPrototype = app
