// Public types of xypriss: Express 5's own types (@types/express), so code typed against
// `express` compiles unchanged once the import is swapped, plus what xypriss adds.
import e = require('express')

type Built = typeof import('./dist/index').default

declare function xypriss(): e.Express
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
