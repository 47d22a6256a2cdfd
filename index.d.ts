// Public types of xypriss: Express 5's own types (@types/express), so code typed against
// `express` compiles unchanged once the import is swapped, plus what xypriss adds.
import e = require('express')

type Built = typeof import('./dist/index').default

/** An Express 5 app on the engine; `nativePlan()` says which middleware the engine runs natively. */
declare function xypriss(): e.Express & { nativePlan(): xypriss.NativePlan }
declare namespace xypriss {
  export import json = e.json
  export import raw = e.raw
  export import text = e.text
  export import urlencoded = e.urlencoded
  export import application = e.application
  export import request = e.request
  export import response = e.response
  export import Router = e.Router
  export import RouterOptions = e.RouterOptions
  export import Application = e.Application
  export import CookieOptions = e.CookieOptions
  export import Errback = e.Errback
  export import ErrorRequestHandler = e.ErrorRequestHandler
  export import Express = e.Express
  export import Handler = e.Handler
  export import IRoute = e.IRoute
  export import IRouter = e.IRouter
  export import IRouterHandler = e.IRouterHandler
  export import IRouterMatcher = e.IRouterMatcher
  export import MediaType = e.MediaType
  export import NextFunction = e.NextFunction
  export import Locals = e.Locals
  export import Request = e.Request
  export import RequestHandler = e.RequestHandler
  export import RequestParamHandler = e.RequestParamHandler
  export import Response = e.Response
  export import Send = e.Send
  const serveStatic: typeof e.static
  export { serveStatic as static }

  /** The cors package's options (cors 2.8). */
  export interface CorsOptions {
    origin?: CorsStaticOrigin | CorsCustomOrigin
    methods?: string | string[]
    allowedHeaders?: string | string[]
    /** Alias of allowedHeaders. */
    headers?: string | string[]
    exposedHeaders?: string | string[]
    credentials?: boolean
    maxAge?: number
    preflightContinue?: boolean
    optionsSuccessStatus?: number
  }
  export type CorsStaticOrigin = boolean | string | RegExp | Array<boolean | string | RegExp>
  export type CorsCustomOrigin = (requestOrigin: string | undefined, callback: (err: Error | null, origin?: CorsStaticOrigin) => void) => void
  export type CorsOptionsDelegate = (req: e.Request, callback: (err: Error | null, options?: CorsOptions) => void) => void

  /** A value express-rate-limit computes per request. */
  export type RateLimitValue<T> = (req: e.Request, res: e.Response) => T | Promise<T>
  /** express-rate-limit's store interface (a custom store runs express-rate-limit itself). */
  export interface RateLimitStore {
    init?: (options: any) => void | Promise<void>
    get?: (key: string) => Promise<RateLimitClientInfo | undefined> | RateLimitClientInfo | undefined
    increment: (key: string) => Promise<RateLimitClientInfo> | RateLimitClientInfo
    decrement: (key: string) => Promise<void> | void
    resetKey: (key: string) => Promise<void> | void
    resetAll?: () => Promise<void> | void
    shutdown?: () => Promise<void> | void
    localKeys?: boolean
    prefix?: string
  }
  export interface RateLimitClientInfo {
    totalHits: number
    resetTime: Date | undefined
  }
  /** `req.rateLimit`. */
  export interface RateLimitInfo {
    limit: number
    used: number
    remaining: number
    resetTime: Date | undefined
    key: string
  }
  /** express-rate-limit 8's options, and how xypriss counts (`algorithm`, `maxKeys`, `shards`). */
  export interface RateLimitOptions {
    windowMs?: number
    limit?: number | RateLimitValue<number>
    /** Alias of limit. */
    max?: number | RateLimitValue<number>
    message?: any
    statusCode?: number
    legacyHeaders?: boolean
    /** Alias of legacyHeaders. */
    headers?: boolean
    standardHeaders?: boolean | 'draft-6' | 'draft-7' | 'draft-8'
    identifier?: string | RateLimitValue<string>
    retryAfter?: number | RateLimitValue<number>
    requestPropertyName?: string
    skipFailedRequests?: boolean
    skipSuccessfulRequests?: boolean
    keyGenerator?: RateLimitValue<string>
    ipv6Subnet?: number | false | RateLimitValue<number>
    handler?: (req: e.Request, res: e.Response, next: e.NextFunction, optionsUsed: any) => void
    skip?: RateLimitValue<boolean>
    requestWasSuccessful?: RateLimitValue<boolean>
    store?: RateLimitStore
    validate?: boolean | Record<string, boolean>
    passOnStoreError?: boolean
    logger?: { error(...args: unknown[]): void; warn(...args: unknown[]): void }
    /** 'fixed-window' (express-rate-limit's MemoryStore, the default) or 'gcra' (no window edge to burst across). */
    algorithm?: 'fixed-window' | 'gcra'
    /** The most clients counted at once (default 100,000); past it the windows ending soonest are dropped. */
    maxKeys?: number
    /** Counter shards (default 64). */
    shards?: number
  }
  export type RateLimitRequestHandler = e.RequestHandler & {
    resetKey(key: string): void
    getKey(key: string): Promise<RateLimitClientInfo | undefined>
  }

  /**
   * helmet 8: the same options, errors, warnings and headers. At the top of an app the engine
   * sets them before JS runs (see app.nativePlan()); elsewhere it is ordinary middleware.
   */
  export const helmet: typeof import('helmet').default
  /** cors 2.8: the same options and answers; preflights are answered natively at the top of an app. */
  export function cors(options?: CorsOptions | CorsOptionsDelegate): e.RequestHandler
  /**
   * express-rate-limit 8 with its counters native (shared by every thread); past the limit the
   * engine answers at the top of an app without waking JS.
   */
  export function rateLimit(options?: RateLimitOptions): RateLimitRequestHandler

  /** What `app.nativePlan()` returns. */
  export interface NativePlan {
    /**
     * The middleware the engine runs natively before JS, in stack order; a `bodyLimit` stage is a
     * body parser, which runs in JS, whose limit the engine applies before reading a body.
     */
    stages: Array<{ index: number; name: string; kind: 'helmet' | 'cors' | 'rateLimit' | 'static' | 'bodyLimit'; path: string | string[] }>
    /** Every other middleware, with why it runs in JS. */
    inJs: Array<{ index: number; name: string; reason: string }>
  }

  /** XyPriss API: an app with start(), getPort(), body parsing and XEMS sessions from options. */
  export const createServer: Built['createServer']
  /** Node's `http.createServer` on the engine. */
  export const createHttpServer: Built['createHttpServer']
  /** The encrypted session and token store. */
  export const xems: Built['xems']
  /** Requests handed to JS and not yet finished, process-wide. */
  export const inFlight: Built['inFlight']
  /** Bridge counters of the listening servers. */
  export const engineStats: Built['engineStats']
}

export = xypriss
