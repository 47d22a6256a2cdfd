// express.static: serve-static, except that no file is served for a path in another spelling
// than its plain one (an encoded or back slash, a dot or empty segment, an escaped letter...):
// a guard such as app.use('/private', deny) matches the path as sent, while the file server
// decodes and normalises it, so any other spelling would reach the guarded file around the
// guard. Such a request is answered as for a file that does not exist. The rule is the engine's
// (crates/xsys-http/src/static_path.rs), in one place for this middleware and the native stage.
//
// When such a middleware is among the app's leading layers, the engine answers for it
// (crates/xsys-static, see docs/static-files.md): nativeStatic() gives what it needs, the
// options read once here with serve-static's and send's own rules.
import createError from 'http-errors'
import createServeStatic from 'serve-static'
import type { ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import { native } from './binding'
import { parseUrl } from './request'

type StaticOptions = createServeStatic.ServeStaticOptions<ServerResponse>
type NativeOptions = Parameters<InstanceType<typeof native.NativeServer>['insertStatic']>[2]

/** An express.static middleware the engine can answer for: its root and options. */
export interface NativeStatic {
  root: string
  options: NativeOptions
}

const natives = new WeakMap<object, NativeStatic>()

/** The engine's version of `handle`, if `handle` is an express.static it can answer for. */
export function nativeStatic(handle: unknown): NativeStatic | undefined {
  return typeof handle === 'function' ? natives.get(handle) : undefined
}

export function staticFiles(root: string, options?: StaticOptions): createServeStatic.RequestHandler<ServerResponse> {
  const serve = createServeStatic(root, options)
  const fallthrough = options?.fallthrough !== false
  // the name serve-static's middleware has, which stack inspections look for
  const middleware = function serveStatic(req, res, next) {
    const method = req.method
    if (method === 'GET' || method === 'HEAD') {
      const path = parseUrl(req as { url: string }).pathname
      if (path !== null && native.staticPathRefusal(path) !== null) {
        if (fallthrough) next()
        else next(createError(404))
        return
      }
    }
    serve(req, res, next)
  } as createServeStatic.RequestHandler<ServerResponse>
  const compiled = compile(root, options)
  if (compiled !== undefined) natives.set(middleware, compiled)
  return middleware
}

/**
 * serve-static's and send's reading of the options (send reads them on every request; they are
 * read once here, which is the same for an options object nobody changes afterwards), or
 * undefined for what only the JS middleware does: a setHeaders function, send's start/end, a
 * value send would throw for on every request.
 */
function compile(root: string, options: StaticOptions | undefined): NativeStatic | undefined {
  // serve-static reads through Object.create(options): inherited properties count.
  const opts: Record<string, unknown> = Object.create(options ?? null)
  if (opts.setHeaders || opts.start !== undefined || opts.end !== undefined) return undefined
  const flag = (name: string, fallback: boolean) => (opts[name] !== undefined ? Boolean(opts[name]) : fallback)
  const dotfiles = opts.dotfiles !== undefined ? opts.dotfiles : 'ignore'
  if (dotfiles !== 'ignore' && dotfiles !== 'allow' && dotfiles !== 'deny') return undefined
  const extensions = list(opts.extensions, [])
  const index = list(opts.index, ['index.html'])
  if (extensions === undefined || index === undefined) return undefined
  // serve-static sets maxage to `maxage || maxAge || 0`; send then reads `maxAge || maxage`.
  const maxAge = opts.maxAge || opts.maxage || 0
  if (typeof maxAge !== 'string' && typeof maxAge !== 'number' && typeof maxAge !== 'boolean') return undefined
  return {
    root: resolve(root),
    options: {
      acceptRanges: flag('acceptRanges', true),
      cacheControl: flag('cacheControl', true),
      dotfiles,
      etag: flag('etag', true),
      extensions,
      fallthrough: opts.fallthrough !== false,
      immutable: flag('immutable', false),
      index,
      lastModified: flag('lastModified', true),
      maxAge: typeof maxAge === 'string' ? maxAge : Number(maxAge),
      redirect: opts.redirect !== false,
    },
  }
}

/** send's normalizeList: a string or an array of strings, false for none; undefined where send throws. */
function list(value: unknown, fallback: string[]): string[] | undefined {
  if (value === undefined) return fallback
  const items = ([] as unknown[]).concat(value || [])
  return items.every((item) => typeof item === 'string') ? (items as string[]) : undefined
}
