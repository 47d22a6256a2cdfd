// The XyPriss API on the same engine: `createServer(options)` returns an Express-compatible app
// with `start()` and `getPort()`, body parsing and XEMS sessions wired from options.
import { createApplication, type Application } from './application'
import type { HelmetOptions } from 'helmet'
import type { HttpServer } from './engine/server'
import { SETTING_NAMES } from './engine/server-limits'
import { json, urlencoded } from './middleware/body-parsers'
import { cors, type CorsOptions } from './middleware/cors'
import { helmet } from './middleware/helmet'
import { rateLimit, type RateLimitOptions } from './middleware/rate-limit'
import type { NextFunction } from './types'
import { type SessionRequest, type SessionResponse, session, type XemsSessionOptions } from './xems/session'
import { XemsStore, type XemsOpenOptions } from './xems/store'

export interface XyPrissServerOptions {
  server?: {
    port?: number
    host?: string
    trustProxy?: boolean | number | string | string[] | ((addr: string, i: number) => boolean)
    /** body-parser's limit for JSON bodies (default '1mb'). */
    jsonLimit?: string | number
    /** body-parser's limit for urlencoded bodies (default '1mb'). */
    urlEncodedLimit?: string | number
    /** Parse JSON and urlencoded bodies for every route (default true). */
    autoParseJson?: boolean
    /** Run the app on this many worker threads behind the one listener (`'auto'`: one per core); see docs/workers.md. */
    workers?: number | 'auto'
    // Node's server settings, with Node's defaults, given to the server start() listens with.
    /** ms to receive a request head, then 408 (60 000; at most requestTimeout). */
    headersTimeout?: number
    /** ms to receive a whole request, then 408 (300 000; 0 for none). */
    requestTimeout?: number
    /** ms an idle kept-alive connection stays open, plus 1 s (5 000). */
    keepAliveTimeout?: number
    /** Request target plus header names and values, in bytes, below which a head must stay (16 KiB). */
    maxHeaderSize?: number
    /** Header lines per request (null: 1000; 0: no limit). */
    maxHeadersCount?: number | null
    /** Requests per connection; the last answer says close (0: no limit). */
    maxRequestsPerSocket?: number
    /** Open connections; more are closed as accepted (unset: no limit). */
    maxConnections?: number
  }
  /** helmet's headers on every response (`true`: helmet's defaults), set natively before JS runs. */
  security?: boolean | HelmetOptions
  /** CORS (`true`: cors's defaults), preflights answered natively. */
  cors?: boolean | CorsOptions
  /** Rate limiting (`true`: express-rate-limit's defaults), counted and answered natively. */
  rateLimit?: boolean | RateLimitOptions
  /** Opens an XEMS store and mounts its session middleware before every route. */
  xems?: XemsOpenOptions & Omit<XemsSessionOptions, 'store'>
}

export interface XyPrissApp extends Application {
  start(callback?: (server: HttpServer) => void): HttpServer
  getPort(): number | undefined
  /** The XEMS store opened from `options.xems`. */
  xems?: Promise<XemsStore>
}


export function createServer(options: XyPrissServerOptions = {}): XyPrissApp {
  const app = createApplication() as XyPrissApp
  const server = options.server ?? {}
  if (server.trustProxy !== undefined) app.set('trust proxy', server.trustProxy)
  // First in the stack, so the engine runs them before JS (app.nativePlan() says so).
  if (options.security) app.use(helmet(options.security === true ? undefined : options.security))
  if (options.cors) app.use(cors(options.cors === true ? undefined : options.cors))
  if (options.rateLimit) app.use(rateLimit(options.rateLimit === true ? undefined : options.rateLimit))
  if (server.autoParseJson !== false) {
    app.use(json({ limit: server.jsonLimit ?? '1mb' }))
    app.use(urlencoded({ extended: true, limit: server.urlEncodedLimit ?? '1mb' }))
  }
  if (options.xems) {
    const { path, secret, passphrase, pbkdf2Iterations, hardwareBound, recoveryKey, hardwareId, autoCompact, ...sessionOptions } = options.xems
    const opening = XemsStore.open({ path, secret, passphrase, pbkdf2Iterations, hardwareBound, recoveryKey, hardwareId, autoCompact })
    // Keep an open failure from being an unhandled rejection; requests report it through next(err).
    opening.catch(() => {})
    app.xems = opening
    let middleware: ReturnType<typeof session> | undefined
    app.use((req: SessionRequest, res: SessionResponse, next: NextFunction) => {
      opening.then((store) => {
        middleware ??= session({ ...sessionOptions, store })
        middleware(req, res, next)
      }, next)
    })
  }
  let listening: HttpServer | undefined
  app.start = (callback) => {
    const where = { port: server.port ?? 0, host: server.host ?? '::', workers: server.workers }
    listening = app.listen(where, () => callback?.(listening!)) as HttpServer
    // Set before any connection comes: the engine takes them at once.
    for (const name of SETTING_NAMES) if (server[name] !== undefined) (listening as unknown as Record<string, unknown>)[name] = server[name]
    return listening
  }
  app.getPort = () => (listening?.address() as { port: number } | null)?.port
  return app
}
