// xypriss: an Express 5 drop-in whose HTTP engine is Rust, running inside this process.
import { type Application, applicationPrototype, createAppServer, createApplication } from './application'
import { native } from './binding'
import { settle } from './engine/completions'
import { HttpServer, liveServers, type RequestListener, type ServerOptions } from './engine/server'
import { json, raw, text, urlencoded } from './middleware/body-parsers'
import { cors } from './middleware/cors'
import { helmet } from './middleware/helmet'
import { rateLimit } from './middleware/rate-limit'
import { createRouter } from './router'
import { Route } from './router/route'
import { IncomingRequest } from './request'
import { ServerResponse } from './response'
import { staticFiles } from './static'
import { xems } from './xems'
import { createServer } from './xypriss'

function express() {
  return createApplication()
}

/** Requests handed to JS and not finished or aborted yet, across the process. */
function inFlight(): number {
  settle()
  return native.inFlight()
}

/**
 * Bridge counters summed over the listening servers: requests handed to JS, JS wake-ups (batches),
 * the largest batch, and native calls from JS into the engine (process-wide). A server run on
 * worker threads counts those of all its threads; `threads` is how many JS threads serve the
 * listening servers, `routeTables` how many distinct route tables the engine holds.
 */
function engineStats() {
  settle()
  const total = { requests: 0, wakeups: 0, events: 0, maxBatch: 0, nativeCalls: 0, inFlight: native.inFlight(), threads: 0, routeTables: 0 }
  for (const server of liveServers) {
    const s = server.stats()
    total.requests += server.supervisor === undefined ? server.requests : s.requests
    total.wakeups += s.drains
    total.events += s.events
    total.maxBatch = Math.max(total.maxBatch, s.maxBatch)
    total.nativeCalls = s.nativeCalls
    total.threads += s.threads
    total.routeTables = s.routeTables
  }
  return total
}

function createHttpServer(options?: ServerOptions | RequestListener, listener?: RequestListener): HttpServer {
  if (typeof options === 'function') {
    listener = options
    options = undefined
  }
  // an app gets what app.listen() gives it: its route table mirrored into the engine
  return typeof listener === 'function' && (listener as { mirrorRoutes?: unknown }).mirrorRoutes === applicationPrototype.mirrorRoutes
    ? createAppServer(listener as Application, options)
    : new HttpServer(options, listener)
}

const exported = Object.assign(express, {
  default: express,
  express,
  Router: createRouter,
  Route,
  json,
  raw,
  text,
  urlencoded,
  static: staticFiles,
  application: applicationPrototype,
  request: IncomingRequest.prototype,
  response: ServerResponse.prototype,
  /** XyPriss API: an app with start(), getPort(), body parsing and XEMS sessions from options. */
  createServer,
  /** helmet 8's headers, set natively when at the top of the app (same options, same errors). */
  helmet,
  /** The cors package's decisions and preflight answers, natively at the top of the app. */
  cors,
  /** express-rate-limit 8 with native, shared counters; answered natively at the top of the app. */
  rateLimit,
  /** Node's `http.createServer([options][, listener])` on the engine: a server for any `(req, res)` listener. */
  createHttpServer,
  HttpServer,
  inFlight,
  engineStats,
  xems,
})

export = exported
