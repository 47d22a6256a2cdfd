// xypriss.rateLimit(options): express-rate-limit 8 with its counters in Rust (crates/xsys-security):
// MemoryStore's fixed window (or GCRA with `algorithm: 'gcra'`) in sharded, bounded counters that
// every thread shares, its headers of every draft and its answer past the limit. As ordinary
// middleware it counts through one native call per request; at the top of an app the engine
// counts before JS runs (see ../prelude.ts). With a JS keyGenerator, skip, handler or
// requestWasSuccessful (or any option computed by a function), express-rate-limit itself runs,
// still counting in the native counters through its Store interface; with a custom store it is
// express-rate-limit as published.
import { isIP } from 'node:net'
import { native } from '../binding'
import { sharedStoreName } from '../engine/workers'
import { errors } from '../errors'
import { kNativeStage } from '../symbols'
import type { NextFunction } from '../types'
import {
  encodeOptions,
  isInvalidOption,
  isNotNative,
  type NativeStage,
  packageError,
  type SettingsReader,
  type StageError,
  type StageMiddleware,
  type StageRequest,
  type StageResponse,
} from './options'

type Middleware = StageMiddleware & {
  [kNativeStage]?: NativeStage
  resetKey(key: string): void | Promise<void>
  getKey(key: string): Promise<{ totalHits: number; resetTime: Date | undefined } | undefined>
}

type Stage = InstanceType<typeof native.RateLimitStage>

/** express-rate-limit 8's options (typed in index.d.ts), and xypriss's own on how to count. */
export interface RateLimitOptions {
  windowMs?: number
  limit?: number | ((req: StageRequest, res: StageResponse) => number | Promise<number>)
  max?: number | ((req: StageRequest, res: StageResponse) => number | Promise<number>)
  message?: unknown
  statusCode?: number
  legacyHeaders?: boolean
  headers?: boolean
  standardHeaders?: boolean | 'draft-6' | 'draft-7' | 'draft-8'
  identifier?: string | ((req: StageRequest, res: StageResponse) => string | Promise<string>)
  retryAfter?: number | ((req: StageRequest, res: StageResponse) => number | Promise<number>)
  requestPropertyName?: string
  skipFailedRequests?: boolean
  skipSuccessfulRequests?: boolean
  keyGenerator?: (req: StageRequest, res: StageResponse) => string | Promise<string>
  ipv6Subnet?: number | false | ((req: StageRequest, res: StageResponse) => number | Promise<number>)
  handler?: (req: StageRequest, res: StageResponse, next: NextFunction, optionsUsed: Record<string, unknown>) => void
  skip?: (req: StageRequest, res: StageResponse) => boolean | Promise<boolean>
  requestWasSuccessful?: (req: StageRequest, res: StageResponse) => boolean | Promise<boolean>
  store?: object
  validate?: boolean | Record<string, boolean>
  passOnStoreError?: boolean
  logger?: Logger
  algorithm?: 'fixed-window' | 'gcra'
  maxKeys?: number
  shards?: number
}

interface Logger {
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** express-rate-limit's default logger: the error object alone, through console. */
const consoleLogger: Logger = {
  warn: (...args) => console.warn(...args.reverse()),
  error: (...args) => console.error(...args.reverse()),
}

/** Options of xypriss's own, which express-rate-limit does not know. */
const XYPRISS_OPTIONS = ['algorithm', 'maxKeys', 'shards']

const DEFAULT_MESSAGE = 'Too many requests, please try again later.'

/** express-rate-limit's ValidationError: its code, the help URL, the message ending with it. */
class ValidationError extends Error {
  code: string
  help: string
  constructor(code: string, message: string) {
    const url = `https://express-rate-limit.github.io/${code}/`
    super(message.endsWith(' for more information.') ? message : `${message} See ${url} for more information.`)
    this.name = this.constructor.name
    this.code = code
    this.help = url
  }
}
/** What express-rate-limit logs with logger.warn instead of logger.error. */
class ChangeWarning extends ValidationError {}

function report(logger: Logger, code: string, message: string) {
  if (code.startsWith('WRN_')) logger.warn(new ChangeWarning(code, message))
  else logger.error(new ValidationError(code, message))
}

/**
 * The validations express-rate-limit runs on a request, each once per limiter (the first time it
 * is asked, whatever the outcome), unless `validate` turns it off.
 */
class Validations {
  private readonly enabled: Record<string, boolean>
  private readonly counted = new WeakMap<object, string[]>()
  /** What express-rate-limit logs after a first request's key validations (set by the middleware). */
  onFirstRequest: (() => void) | undefined = undefined
  private firstRequestDone = false
  /** Runs onFirstRequest once. */
  afterFirstRequest() {
    if (this.firstRequestDone) return
    this.firstRequestDone = true
    this.onFirstRequest?.()
  }
  constructor(
    validate: unknown,
    private readonly logger: Logger,
  ) {
    this.enabled = typeof validate === 'boolean' ? { default: validate } : { default: true, ...(validate as object) }
  }
  /** Runs `check` if the validation is still on, turning it off; logs what it reports. */
  private once(name: string, check: () => [code: string, message: string] | undefined) {
    if (!(this.enabled[name] ?? this.enabled.default)) return
    this.enabled[name] = false
    const found = check()
    if (found) report(this.logger, found[0], found[1])
  }
  /** Marks a validation as run (the engine ran it for a request). */
  done(name: string) {
    this.enabled[name] = false
  }
  isOn(name: string): boolean {
    return Boolean(this.enabled[name] ?? this.enabled.default)
  }
  keyGenerator(req: StageRequest, isIP: (ip: string) => number) {
    const ip = req.ip
    this.once('ip', () => {
      if (ip === undefined)
        return ['ERR_ERL_UNDEFINED_IP_ADDRESS', `An undefined 'request.ip' was detected. This might indicate a misconfiguration or the connection being destroyed prematurely.`]
      if (!isIP(ip))
        return ['ERR_ERL_INVALID_IP_ADDRESS', `An invalid 'request.ip' (${ip}) was detected. Consider passing a custom 'keyGenerator' function to the rate limiter.`]
      return undefined
    })
    this.once('trustProxy', () =>
      req.app?.get('trust proxy') === true
        ? ['ERR_ERL_PERMISSIVE_TRUST_PROXY', `The Express 'trust proxy' setting is true, which allows anyone to trivially bypass IP-based rate limiting.`]
        : undefined,
    )
    this.once('xForwardedForHeader', () => this.xForwardedFor(Boolean(req.headers['x-forwarded-for']) && req.app?.get('trust proxy') === false))
    this.once('forwardedHeader', () => this.forwarded(Boolean(req.headers.forwarded) && req.ip === req.socket?.remoteAddress))
  }
  xForwardedFor(found: boolean): [string, string] | undefined {
    return found
      ? [
          'ERR_ERL_UNEXPECTED_X_FORWARDED_FOR',
          `The 'X-Forwarded-For' header is set but the Express 'trust proxy' setting is false (default). This could indicate a misconfiguration which would prevent express-rate-limit from accurately identifying users.`,
        ]
      : undefined
  }
  forwarded(found: boolean): [string, string] | undefined {
    return found
      ? ['ERR_ERL_FORWARDED_HEADER', `The 'Forwarded' header (standardized X-Forwarded-For) is set but currently being ignored. Add a custom keyGenerator to use a value from this header.`]
      : undefined
  }
  /** What the engine saw on the limiter's first request (see prelude.ts): those validations ran there. */
  engineFirstRequest(xForwardedFor: boolean, forwarded: boolean) {
    for (const name of ['ip', 'trustProxy']) this.done(name)
    this.once('xForwardedForHeader', () => this.xForwardedFor(xForwardedFor))
    this.once('forwardedHeader', () => this.forwarded(forwarded))
    this.done('singleCount')
    this.afterFirstRequest()
  }
  singleCount(req: object, key: string) {
    this.once('singleCount', () => {
      const keys = this.counted.get(req) ?? []
      this.counted.set(req, keys)
      if (keys.includes(key)) return ['ERR_ERL_DOUBLE_COUNT', `The hit count for ${key} was incremented more than once for a single request.`]
      keys.push(key)
      return undefined
    })
  }
  keyGeneratorIpFallback(keyGenerator: unknown) {
    this.once('keyGeneratorIpFallback', () => {
      if (!keyGenerator) return undefined
      const src = String(keyGenerator)
      return (src.includes('req.ip') || src.includes('request.ip')) && !src.includes('ipKeyGenerator')
        ? [
            'ERR_ERL_KEY_GEN_IPV6',
            'Custom keyGenerator appears to use request IP without calling the ipKeyGenerator helper function for IPv6 addresses. This could allow IPv6 users to bypass limits.',
          ]
        : undefined
    })
  }
  /** The validations still on, as express-rate-limit hands them to a handler (`optionsUsed.validate`). */
  config(): Record<string, boolean> {
    return this.enabled
  }
  creationStack() {
    this.once('creationStack', () => {
      const { stack } = new Error('express-rate-limit validation check (set options.validate.creationStack=false to disable)')
      return stack?.includes('Layer.handle [as handle_request]') || stack?.includes('Layer.handleRequest')
        ? ['ERR_ERL_CREATED_IN_REQUEST_HANDLER', 'express-rate-limit instance should be created at app initialization, not when responding to a request.']
        : undefined
    })
  }
}

function validateLogger(logger: unknown): Logger {
  const l = logger as Partial<Logger> | null
  if (typeof l !== 'object' || l === null || typeof l.error !== 'function' || typeof l.warn !== 'function') {
    throw new TypeError('Provided logger does not implement the Logger interface')
  }
  return l as Logger
}

/** The options as express-rate-limit reads them: undefined properties left out. */
function definedOptions(passed: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(passed)) if (passed[key] !== undefined) out[key] = passed[key]
  return out
}

/** express-rate-limit's Store backed by a native stage's counters (shared across threads). */
class NativeStore {
  /** Keys of one instance cannot affect another's (express-rate-limit's double-count check reads it). */
  readonly localKeys = true
  private sweeper: NodeJS.Timeout | undefined
  constructor(private readonly stage: Stage) {}
  init(options: { windowMs: number }) {
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = setInterval(() => this.stage.sweep(), options.windowMs)
    this.sweeper.unref?.()
  }
  async get(key: string) {
    const found = this.stage.get(String(key))
    return found ? { totalHits: found[0], resetTime: new Date(found[1]) } : undefined
  }
  async increment(key: string) {
    const hit = this.stage.hitKey(String(key))
    return { totalHits: Number(hit[1]), resetTime: new Date(Number(hit[3])) }
  }
  async decrement(key: string) {
    this.stage.decrement(String(key))
  }
  async resetKey(key: string) {
    this.stage.resetKey(String(key))
  }
  async resetAll() {
    this.stage.resetAll()
  }
  shutdown() {
    clearInterval(this.sweeper)
    this.stage.resetAll()
  }
}

/**
 * express-rate-limit itself (an optional peer dependency: apps that move from Express have it),
 * with `store` unless the options bring their own.
 */
function npmRateLimit(passed: Record<string, unknown>, store: NativeStore | undefined, reason: string): Middleware {
  const options: Record<string, unknown> = {}
  for (const key of Object.keys(passed)) if (!XYPRISS_OPTIONS.includes(key)) options[key] = passed[key]
  if (store && passed.store === undefined) options.store = store
  let erl: { rateLimit(options: unknown): Middleware }
  try {
    // loaded on first need: most apps never do
    erl = require('express-rate-limit')
  } catch {
    throw errors.notSupported(`rateLimit() where ${reason}, without express-rate-limit installed (npm install express-rate-limit),`)
  }
  return erl.rateLimit(options)
}

function tag(middleware: Middleware, stage: NativeStage): Middleware {
  middleware[kNativeStage] = stage
  return middleware
}

export function rateLimit(passedOptions?: RateLimitOptions): Middleware {
  const passed = (passedOptions ?? {}) as Record<string, unknown>
  let stage: Stage
  try {
    stage = native.RateLimitStage.create(encodeOptions(passed), sharedStoreName('rate-limit'))
  } catch (error) {
    if (isInvalidOption(error as StageError)) throw packageError(error as StageError)
    if (!isNotNative(error as StageError)) throw error
    // Counting can still be native when only what is counted per request needs JS.
    let store: NativeStore | undefined
    if (passed.store === undefined) {
      try {
        const counting: Record<string, unknown> = { validate: false, windowMs: passed.windowMs }
        for (const key of XYPRISS_OPTIONS) if (passed[key] !== undefined) counting[key] = passed[key]
        store = new NativeStore(native.RateLimitStage.create(encodeOptions(counting), sharedStoreName('rate-limit')))
      } catch {
        store = undefined
      }
    }
    const reason = (error as Error).message
    return tag(npmRateLimit(passed, store, reason), { kind: 'rateLimit', stage: undefined, reason, headerNames: [] })
  }
  return nativeRateLimit(stage, definedOptions(passed))
}

function nativeRateLimit(stage: Stage, options: Record<string, unknown>): Middleware {
  const logger = options.logger === undefined ? consoleLogger : validateLogger(options.logger)
  const validations = new Validations(options.validate ?? true, logger)
  const keyGenerator = options.keyGenerator as ((req: StageRequest, res: StageResponse) => unknown) | undefined
  const skip = options.skip as ((req: StageRequest, res: StageResponse) => unknown) | undefined
  const handler = options.handler as ((req: StageRequest, res: StageResponse, next: NextFunction, options: unknown) => unknown) | undefined
  const requestWasSuccessful = (options.requestWasSuccessful as ((req: StageRequest, res: StageResponse) => unknown) | undefined) ?? ((_req: StageRequest, res: StageResponse) => res.statusCode < 400)
  // Validations in express-rate-limit's order: those on the options, its creation-stack check,
  // MemoryStore's windowMs check; the draft check on the first request, after those of its key.
  // (`limit: 0` is logged now: natively, no request through it ever reaches JS.)
  const warnings = stage.warnings()
  const atInit = ['ERR_ERL_WINDOW_MS', 'WRN_ERL_MAX_ZERO']
  const atFirstRequest = ['ERR_ERL_HEADERS_UNSUPPORTED_DRAFT_VERSION']
  const print = (codes: (code: string) => boolean) => {
    for (let i = 0; i < warnings.length; i += 3) if (codes(warnings[i])) report(logger, warnings[i], warnings[i + 2])
  }
  const isKeyGenerator = (i: number) => warnings[i] === 'ERR_ERL_IPV6SUBNET_OR_KEYGENERATOR'
  for (let i = 0; i < warnings.length; i += 3) {
    if (isKeyGenerator(i)) validations.keyGeneratorIpFallback(keyGenerator)
    if (!atInit.includes(warnings[i]) && !atFirstRequest.includes(warnings[i])) report(logger, warnings[i], warnings[i + 2])
  }
  if (!warnings.some((_, i) => i % 3 === 0 && isKeyGenerator(i))) validations.keyGeneratorIpFallback(keyGenerator)
  validations.creationStack()
  print((code) => atInit.includes(code))
  validations.onFirstRequest = () => print((code) => atFirstRequest.includes(code))

  const property = (options.requestPropertyName as string | undefined) ?? 'rateLimit'
  const statusCode = (options.statusCode as number | undefined) ?? 429
  const message = 'message' in options ? options.message : DEFAULT_MESSAGE
  const skipFailed = Boolean(options.skipFailedRequests)
  const skipSuccessful = Boolean(options.skipSuccessfulRequests)
  const legacyHeaders = options.legacyHeaders ?? options.headers ?? true
  const windowMs = (options.windowMs as number | undefined) ?? 60_000
  const sweeper = setInterval(() => stage.sweep(), windowMs)
  sweeper.unref?.()
  // What express-rate-limit hands a handler as `optionsUsed`.
  const optionsUsed = {
    windowMs,
    limit: options.limit ?? options.max ?? 5,
    message,
    statusCode,
    legacyHeaders,
    standardHeaders: options.standardHeaders === true ? 'draft-6' : (options.standardHeaders ?? false),
    requestPropertyName: property,
    skipFailedRequests: skipFailed,
    skipSuccessfulRequests: skipSuccessful,
    ...options,
    validate: validations.config(),
  }

  /** Counts the request and answers (or goes on) as express-rate-limit does once it has the key. */
  const count = (req: StageRequest, res: StageResponse, next: NextFunction, hit: string[], key: unknown) => {
    const used = Number(hit[1])
    validations.singleCount(req, hit[4])
    validations.afterFirstRequest()
    const info = { limit: Number(hit[0]), used, remaining: Number(hit[2]), resetTime: new Date(Number(hit[3])), key }
    Object.defineProperty(info, 'current', { configurable: false, enumerable: false, value: used })
    req[property] = info
    if (!res.headersSent) {
      for (let i = 6; i < hit.length; i += 2) {
        const name = hit[i]
        // draft-8's two headers are appended (res.append), as express-rate-limit does
        if ((name === 'RateLimit' || name === 'RateLimit-Policy') && hit[i + 1][0] === '"') res.append!(name, hit[i + 1])
        else res.setHeader(name, hit[i + 1])
      }
    }
    if (skipFailed || skipSuccessful) settleLater(req, res, hit)
    if (hit[5] !== '1') return next()
    if (handler !== undefined) return handler(req, res, next, optionsUsed)
    // Express's res.status / res.send, as express-rate-limit calls them
    res.status!(statusCode)
    if (!res.writableEnded) res.send!(message)
  }

  /** Takes the hit back per the skip options once the response's fate is known. */
  const settleLater = (req: StageRequest, res: StageResponse, hit: string[]) => {
    const resetAt = Number(hit[3])
    let decremented = false
    const decrement = () => {
      if (decremented) return
      decremented = true
      if (Date.now() >= resetAt) return
      stage.decrement(hit[4])
    }
    const judged = (wanted: boolean) =>
      res.once('finish', () => {
        Promise.resolve(requestWasSuccessful(req, res)).then(
          (success) => {
            if (Boolean(success) === wanted) decrement()
          },
          (error) => logger.error(error, 'express-rate-limit: error in requestWasSuccessful callback.'),
        )
      })
    if (skipFailed) {
      judged(false)
      res.once('close', () => {
        if (!res.writableEnded) decrement()
      })
      res.once('error', decrement)
    }
    if (skipSuccessful) judged(true)
  }

  /** express-rate-limit's default key generator: req.ip (its IPv6 network), after its validations. */
  const byAddress = (req: StageRequest, res: StageResponse, next: NextFunction) => {
    validations.keyGenerator(req, isIP)
    const ip = req.ip
    // without an address express-rate-limit keys `undefined`
    const hit = ip === undefined ? stage.hitKey('undefined') : stage.hitIp(ip)
    return count(req, res, next, hit, ip === undefined ? undefined : hit[4])
  }

  // Without JS hooks everything is decided in one native call, synchronously.
  const middleware = (
    keyGenerator === undefined && skip === undefined
      ? function rateLimitMiddleware(req: StageRequest, res: StageResponse, next: NextFunction) {
          byAddress(req, res, next)
        }
      : async function rateLimitMiddleware(req: StageRequest, res: StageResponse, next: NextFunction) {
          try {
            if (skip !== undefined && (await skip(req, res))) return next()
            if (keyGenerator === undefined) return await byAddress(req, res, next)
            const key = await keyGenerator(req, res)
            await count(req, res, next, stage.hitKey(String(key)), key)
          } catch (error) {
            next(error)
          }
        }
  ) as Middleware
  middleware.resetKey = (key: string) => stage.resetKey(String(key))
  middleware.getKey = async (key: string) => {
    const found = stage.get(String(key))
    return found ? { totalHits: found[0], resetTime: new Date(found[1]) } : undefined
  }
  const headerNames = legacyHeaders ? ['x-ratelimit-limit', 'x-ratelimit-remaining', 'date', 'x-ratelimit-reset'] : []
  if (options.standardHeaders) headerNames.push('ratelimit-policy', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit')
  const hooks = (['keyGenerator', 'skip', 'handler', 'requestWasSuccessful'] as const).filter((name) => options[name] !== undefined)
  return tag(middleware, {
    kind: 'rateLimit',
    // JS hooks decide per request: the middleware counts natively from JS
    stage: hooks.length === 0 ? stage : undefined,
    reason: hooks.length === 0 ? undefined : `its ${hooks.join(', ')} ${hooks.length === 1 ? 'is a JS function' : 'are JS functions'} (counting stays native)`,
    headerNames,
    requestPropertyName: property,
    appReason: (app: SettingsReader) => nativeAnswerReason(app, message),
    notice: (bits: number) => validations.engineFirstRequest((bits & 2) !== 0, (bits & 4) !== 0),
  })
}

/**
 * Why the engine cannot answer past the limit (and key the client) for this app as
 * express-rate-limit would, or undefined. req.ip must be the socket's address; res.send's
 * answer must not depend on the request or on settings the engine does not know.
 */
function nativeAnswerReason(app: SettingsReader, message: unknown): string | undefined {
  if (app.get('trust proxy') !== false) {
    return "the app's 'trust proxy' setting makes req.ip come from X-Forwarded-For, which is read in JS"
  }
  const etag = app.get('etag')
  if (etag !== false && etag !== true && etag !== 'weak' && etag !== 'strong') {
    return "the app's 'etag' setting is a function, which the answer past the limit would call"
  }
  const json = message !== null && typeof message === 'object' && !ArrayBuffer.isView(message)
  const scalar = typeof message === 'number' || typeof message === 'boolean'
  if ((json || scalar) && (app.get('json replacer') !== undefined || app.get('json spaces') !== undefined || app.get('json escape'))) {
    return "the message is sent as JSON with the app's json settings, applied in JS"
  }
  return undefined
}
