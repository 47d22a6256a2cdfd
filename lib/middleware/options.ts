// Options of helmet, cors and express-rate-limit, handed to the native stages as they are: a flat
// token list the binding reads back into the same JS value (crates/xypriss-napi/src/security.rs),
// so every JavaScript rule the packages apply to them is applied once, in Rust.
import type { native } from '../binding'
import { codes } from '../error-codes'
import type { NextFunction } from '../types'

export type OptionToken = number | string | Buffer

// Tags, each followed by its payload (see security.rs).
const UNDEFINED = 0
const NULL = 1
const FALSE = 2
const TRUE = 3
const NUMBER = 4
const STRING = 5
const ARRAY = 6
const OBJECT = 7
const REGEXP = 8
const BYTES = 9
const FUNCTION = 10
const SYMBOL = 11

export function encodeOptions(value: unknown): OptionToken[] {
  const out: OptionToken[] = []
  encode(value, out, new Set())
  return out
}

function encode(value: unknown, out: OptionToken[], seen: Set<object>): void {
  if (value === undefined) return void out.push(UNDEFINED)
  if (value === null) return void out.push(NULL)
  switch (typeof value) {
    case 'boolean':
      return void out.push(value ? TRUE : FALSE)
    case 'number':
      return void out.push(NUMBER, value)
    case 'string':
      return void out.push(STRING, value)
    case 'symbol':
      return void out.push(SYMBOL, value.description ?? '')
    case 'function':
    case 'bigint':
      // what it computes (or how it converts) is only known in JS
      return void out.push(FUNCTION)
  }
  const object = value as object
  // a cycle cannot be an option the packages read; it is left to them
  if (seen.has(object)) return void out.push(FUNCTION)
  seen.add(object)
  if (Array.isArray(object) || object instanceof Set) {
    const items = Array.from(object as Iterable<unknown>)
    out.push(ARRAY, items.length)
    for (const item of items) encode(item, out, seen)
  } else if (object instanceof RegExp) {
    out.push(REGEXP, object.source, object.flags)
  } else if (ArrayBuffer.isView(object)) {
    out.push(BYTES, Buffer.from(object.buffer, object.byteOffset, object.byteLength))
  } else {
    const keys = Object.keys(object)
    out.push(OBJECT, keys.length)
    for (const key of keys) {
      out.push(key)
      encode((object as Record<string, unknown>)[key], out, seen)
    }
  }
  seen.delete(object)
}

/** An error the binding threw while building a stage: the package's own setup error, or why the options stay in JS. */
export interface StageError extends Error {
  code?: string
}

/** helmet / cors / express-rate-limit would throw this when the middleware is made. */
export function isInvalidOption(error: StageError): boolean {
  return error.code === codes.INVALID_OPTION
}

/** The options are valid but only JS can honour them (a function, a custom store...). */
export function isNotNative(error: StageError): boolean {
  return error.code === codes.NOT_NATIVE
}

/** The package's error as it throws it: same constructor and message, no binding code. */
export function packageError(error: StageError): Error {
  return error instanceof TypeError ? new TypeError(error.message) : new Error(error.message)
}

/** A body parser's limit in bytes and its `type` entries as type-is normalizes them ('' for one that never matches). */
export interface BodyLimitStage {
  limit: number
  types: string[]
}

/** What a native stage says about itself, on the middleware function, for the app's prelude compile. */
export interface NativeStage {
  kind: 'helmet' | 'cors' | 'rateLimit' | 'static' | 'bodyLimit'
  /** The binding's stage (a body parser's limit), when the options are native; else why they stay in JS. */
  stage:
    | InstanceType<typeof native.HelmetStage>
    | InstanceType<typeof native.CorsStage>
    | InstanceType<typeof native.RateLimitStage>
    | InstanceType<typeof native.StaticStage>
    | BodyLimitStage
    | undefined
  reason: string | undefined
  /** Lower-case names of the response headers the stage may set (the app takes them into JS when JS touches one). */
  headerNames: readonly string[]
  /** Why the stage cannot answer natively in this app (its settings), or undefined. */
  appReason?: (app: SettingsReader) => string | undefined
  /** rateLimit: the request property its info goes to. */
  requestPropertyName?: string
  /** rateLimit: express-rate-limit's runtime validations, logged once each (engine notices). */
  notice?: (which: number) => void
}

/** What a stage reads of the app it is compiled for. */
export interface SettingsReader {
  get(setting: string): unknown
}

/** A request as these middleware read it: Express's, or Node's under a plain listener. */
export interface StageRequest {
  method?: string
  headers: Record<string, string | string[] | undefined>
  ip?: string
  path?: string
  app?: SettingsReader
  socket?: { remoteAddress?: string }
  [property: string]: unknown
}

/** A response as these middleware write it (append, status and send are Express's). */
export interface StageResponse {
  statusCode: number
  headersSent: boolean
  writableEnded: boolean
  setHeader(name: string, value: string): unknown
  removeHeader(name: string): void
  getHeader(name: string): unknown
  end(): unknown
  once(event: string, listener: () => void): unknown
  append?(name: string, value: string): unknown
  status?(code: number): unknown
  send?(body: unknown): unknown
}

export type StageMiddleware = (req: StageRequest, res: StageResponse, next: NextFunction) => void
