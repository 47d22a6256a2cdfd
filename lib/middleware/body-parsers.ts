// express.json / urlencoded / raw / text: body-parser 2's parsers themselves, each carrying what
// the native prelude compiles it to (../prelude.ts). At the top of the app the parser still runs
// in JS, but the engine knows its limit and its types: a request whose declared Content-Length
// is over the limit, of a type the parser takes, has its body refused before it is read (the
// parser answers 413 for it without reading; body-parser would then read the whole body only to
// drop it). See crates/xsys-http/src/prelude/body.rs and docs/native-prelude.md.
import bodyParser from 'body-parser'
import bytes from 'bytes'
import typeis from 'type-is'
import { kNativeStage } from '../symbols'
import type { BodyLimitStage, NativeStage } from './options'

type Make = (options?: never) => object

/** The type each parser takes by default (body-parser's `defaultType`). */
const DEFAULT_TYPES = {
  json: 'application/json',
  urlencoded: 'application/x-www-form-urlencoded',
  raw: 'application/octet-stream',
  text: 'text/plain',
} as const

type ParserName = keyof typeof DEFAULT_TYPES

/** The parser `make` builds, carrying its stage; body-parser throws its own errors for bad options. */
function carrying<M extends Make>(make: M, name: ParserName): M {
  const parser = {
    [name](options?: unknown) {
      const middleware = make(options as never) as { [kNativeStage]?: NativeStage }
      middleware[kNativeStage] = bodyStage(options, DEFAULT_TYPES[name])
      return middleware
    },
  }[name]
  return parser as unknown as M
}

/** What the engine needs, read from the options as body-parser's `normalizeOptions` reads them. */
function bodyStage(options: unknown, defaultType: string): NativeStage {
  const given = options as { limit?: unknown; type?: unknown } | null | undefined
  const type = given?.type || defaultType
  if (typeof type === 'function') return { kind: 'bodyLimit', stage: undefined, reason: 'its type option is a function, which only JS can call', headerNames: [] }
  // body-parser has thrown already for a limit `bytes` cannot parse
  const limit = given?.limit === undefined || given?.limit === null ? 102400 : (bytes.parse(given.limit as string | number) as number)
  // type-is takes one type or an array of them, each normalized (an extension looked up, a
  // `+suffix` widened); one it cannot normalize never matches ('' in the engine)
  const list: unknown[] = Array.isArray(type) ? type : [type]
  const types: string[] = []
  for (let i = 0; i < list.length; i++) {
    const normalized = typeis.normalize(list[i] as string)
    types.push(typeof normalized === 'string' ? normalized : '')
  }
  const stage: BodyLimitStage = { limit, types }
  return { kind: 'bodyLimit', stage, reason: undefined, headerNames: [] }
}

export const json = carrying(bodyParser.json, 'json')
export const urlencoded = carrying(bodyParser.urlencoded, 'urlencoded')
export const raw = carrying(bodyParser.raw, 'raw')
export const text = carrying(bodyParser.text, 'text')
