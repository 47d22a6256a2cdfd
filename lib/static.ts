// express.static: serve-static, except that no file is served for a path in another spelling
// than its plain one (an encoded or back slash, a dot or empty segment, an escaped letter...):
// a guard such as app.use('/private', deny) matches the path as sent, while the file server
// decodes and normalises it, so any other spelling would reach the guarded file around the
// guard. Such a request is answered as for a file that does not exist. The rule is the engine's
// (crates/xsys-http/src/static_path.rs), in one place for this middleware and the native stage.
//
// When such a middleware is among the app's leading layers, it compiles into the app's native
// prelude (./prelude.ts) and the engine answers for it (crates/xsys-static, see
// docs/static-files.md): the middleware carries its native stage, built from its options read
// once here with serve-static's and send's own rules.
import createError from 'http-errors'
import createServeStatic from 'serve-static'
import type { ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import { native } from './binding'
import { isNotNative, type NativeStage, type StageError } from './middleware/options'
import { parseUrl } from './request'
import { kNativeStage } from './symbols'

type StaticOptions = createServeStatic.ServeStaticOptions<ServerResponse>
type NativeOptions = Parameters<typeof native.StaticStage.create>[1]
type Middleware = createServeStatic.RequestHandler<ServerResponse> & { [kNativeStage]?: NativeStage }

export function staticFiles(root: string, options?: StaticOptions): createServeStatic.RequestHandler<ServerResponse> {
  const serve = createServeStatic(root, options)
  const fallthrough = options?.fallthrough !== false
  // the name serve-static's middleware has, which stack inspections look for
  const middleware: Middleware = function serveStatic(req, res, next) {
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
  }
  middleware[kNativeStage] = nativeStage(root, options)
  return middleware
}

/** The engine's stage for these files, or why the JS middleware serves them wherever it sits. */
function nativeStage(root: string, options: StaticOptions | undefined): NativeStage {
  const read = readOptions(options)
  if (typeof read === 'string') return { kind: 'static', stage: undefined, reason: read, headerNames: [] }
  try {
    // A file that falls through leaves the response as it was: no header to watch for.
    return { kind: 'static', stage: native.StaticStage.create(resolve(root), read), reason: undefined, headerNames: [] }
  } catch (error) {
    if (!isNotNative(error as StageError)) throw error
    return { kind: 'static', stage: undefined, reason: (error as Error).message, headerNames: [] }
  }
}

/**
 * serve-static's and send's reading of the options (send reads them on every request; they are
 * read once here, which is the same for an options object nobody changes afterwards), or why
 * only the JS middleware can honour them: a setHeaders function, send's start/end, a value send
 * would throw for on every request.
 */
function readOptions(options: StaticOptions | undefined): NativeOptions | string {
  // serve-static reads through Object.create(options): inherited properties count.
  const opts: Record<string, unknown> = Object.create(options ?? null)
  if (opts.setHeaders) return 'setHeaders is a JS function'
  if (opts.start !== undefined || opts.end !== undefined) return "send's start / end options are read in JS"
  const flag = (name: string, fallback: boolean) => (opts[name] !== undefined ? Boolean(opts[name]) : fallback)
  const dotfiles = opts.dotfiles !== undefined ? opts.dotfiles : 'ignore'
  if (dotfiles !== 'ignore' && dotfiles !== 'allow' && dotfiles !== 'deny') return 'dotfiles is not "allow", "deny" or "ignore" (send throws for it)'
  const extensions = list(opts.extensions, [])
  const index = list(opts.index, ['index.html'])
  if (extensions === undefined || index === undefined) return 'extensions or index is not a string or an array of strings (send throws for it)'
  // serve-static sets maxage to `maxage || maxAge || 0`; send then reads `maxAge || maxage`.
  const maxAge = opts.maxAge || opts.maxage || 0
  if (typeof maxAge !== 'string' && typeof maxAge !== 'number' && typeof maxAge !== 'boolean') return 'maxAge is not a number or a string'
  return {
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
  }
}

/** send's normalizeList: a string or an array of strings, false for none; undefined where send throws. */
function list(value: unknown, fallback: string[]): string[] | undefined {
  if (value === undefined) return fallback
  const items = ([] as unknown[]).concat(value || [])
  return items.every((item) => typeof item === 'string') ? (items as string[]) : undefined
}
