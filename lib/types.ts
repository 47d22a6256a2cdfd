// Types that more than one layer of lib/ uses. They live here, importing nothing of lib/, so that
// no module imports another only for its types: lib/ has one direction (see __test__/lib.layers.test.ts).

export type NextFunction = (err?: unknown) => void

/** Route parameters: names (or capture indices) to decoded values. */
export type Params = Record<string, string>

/** What `app.set('trust proxy', ...)` compiles to: does this hop (address, index from the socket) count? */
export type TrustFn = (addr: string | undefined, i: number) => boolean

/** What `app.set('etag', ...)` compiles to. */
export type ETagFn = (body: Buffer | string, encoding?: BufferEncoding) => string | undefined

export type QueryParser = (query: string) => Record<string, unknown>

export type JsonReplacer = (this: unknown, key: string, value: unknown) => unknown

export type RenderCallback = (err: unknown, html?: string) => void

/** A template engine, as `app.engine(ext, fn)` takes it. */
export type TemplateEngine = (path: string, options: object, callback: RenderCallback) => void

/** The settings Express itself reads, with the types it gives them. */
export interface KnownSettings {
  'case sensitive routing': boolean | undefined
  env: string
  'etag fn': ETagFn | undefined
  'json escape': boolean | undefined
  'json replacer': JsonReplacer | undefined
  'json spaces': string | number | undefined
  'jsonp callback name': string
  'query parser fn': QueryParser | undefined
  'strict routing': boolean | undefined
  'subdomain offset': number
  'trust proxy fn': TrustFn
  'view cache': boolean | undefined
  'view engine': string | undefined
  views: string | string[]
  'x-powered-by': boolean
}

export type SettingValue<K extends string> = K extends keyof KnownSettings ? KnownSettings[K] : unknown

/** What requests and responses use of their app (`req.app`, `res.app`). */
export interface AppContext {
  get<K extends string>(setting: K): SettingValue<K>
  enabled(setting: string): boolean
  render(name: string, options: Record<string, unknown>, callback: RenderCallback): void
}
