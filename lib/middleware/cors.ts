// xypriss.cors(options): the cors package's decisions made in Rust (crates/xsys-security) from
// its own options: which Access-Control-* headers a request gets, and the whole preflight answer.
// As ordinary middleware it asks the stage once per request; at the top of an app the engine
// asks it before JS runs (see ../prelude.ts). An origin (or options) computed per request by a
// function runs the cors package itself.
import vary from 'vary'
import { native } from '../binding'
import { kNativeStage } from '../symbols'
import type { ServerResponse } from 'node:http'
import { encodeOptions, isInvalidOption, isNotNative, type NativeStage, packageError, type StageError, type StageMiddleware, type StageRequest } from './options'

type Middleware = StageMiddleware & { [kNativeStage]?: NativeStage }

type StaticOrigin = boolean | string | RegExp | Array<boolean | string | RegExp>

/** The cors package's options. */
export interface CorsOptions {
  origin?: StaticOrigin | ((origin: string | undefined, callback: (err: Error | null, origin?: StaticOrigin) => void) => void)
  methods?: string | string[]
  allowedHeaders?: string | string[]
  headers?: string | string[]
  exposedHeaders?: string | string[]
  credentials?: boolean
  maxAge?: number
  preflightContinue?: boolean
  optionsSuccessStatus?: number
}

/** The cors package itself, for what only it can do. */
function npmCors(options: unknown): Middleware {
  // loaded on first need: most apps never do
  return require('cors')(options)
}

/** Every header cors may set on a request that goes on (a preflight with preflightContinue included). */
const HEADER_NAMES = [
  'access-control-allow-origin',
  'vary',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
  'access-control-expose-headers',
]

/** A header value a request can carry (Node's reading of one), which the stage compares as cors does. */
const CARRIABLE = /^[\t\x20-\x7e\x80-\xff]*$/

function carriable(value: unknown): value is string | undefined {
  return value === undefined || (typeof value === 'string' && CARRIABLE.test(value))
}

export function cors(options?: CorsOptions | ((req: StageRequest, callback: (err: Error | null, options?: CorsOptions) => void) => void)): Middleware {
  let stage: InstanceType<typeof native.CorsStage>
  try {
    stage = native.CorsStage.create(encodeOptions(options))
  } catch (error) {
    if (isInvalidOption(error as StageError)) throw packageError(error as StageError)
    if (!isNotNative(error as StageError)) throw error
    const middleware = npmCors(options)
    middleware[kNativeStage] = { kind: 'cors', stage: undefined, reason: (error as Error).message, headerNames: [] }
    return middleware
  }
  // For a request whose Origin was rewritten by JS into something no request carries.
  let fallback: Middleware | undefined
  const middleware: Middleware = function corsMiddleware(req, res, next) {
    const headers = req.headers
    const origin = headers.origin
    const requested = headers['access-control-request-headers']
    if (!carriable(origin) || !carriable(requested)) {
      fallback ??= npmCors(options)
      fallback(req, res, next)
      return
    }
    // cors upper-cases the method (Unicode rules) and treats OPTIONS as a preflight
    const method = typeof req.method === 'string' && req.method.toUpperCase() === 'OPTIONS' ? 'OPTIONS' : 'GET'
    const decision = stage.decide(method, origin, requested)
    if (decision.length === 0) {
      next()
      return
    }
    for (let i = 1; i < decision.length; i += 2) {
      // the vary package reads and sets the header through getHeader / setHeader, as on Node's response
      if (decision[i] === 'Vary') vary(res as unknown as ServerResponse, decision[i + 1])
      else res.setHeader(decision[i], decision[i + 1])
    }
    if (decision[0] === '0') {
      next()
      return
    }
    res.statusCode = Number(decision[0])
    res.end()
  }
  middleware[kNativeStage] = { kind: 'cors', stage, reason: undefined, headerNames: HEADER_NAMES }
  return middleware
}
