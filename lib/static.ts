// express.static: serve-static, except that no file is served for a path in another spelling
// than its plain one (an encoded or back slash, a dot or empty segment, an escaped letter...):
// a guard such as app.use('/private', deny) matches the path as sent, while the file server
// decodes and normalises it, so any other spelling would reach the guarded file around the
// guard. Such a request is answered as for a file that does not exist. The rule is the engine's
// (crates/xsys-http/src/static_path.rs), in one place for this middleware and the native stage.
import createError from 'http-errors'
import createServeStatic from 'serve-static'
import type { ServerResponse } from 'node:http'
import { native } from './binding'
import { parseUrl } from './request'

export function staticFiles(root: string, options?: createServeStatic.ServeStaticOptions<ServerResponse>): createServeStatic.RequestHandler<ServerResponse> {
  const serve = createServeStatic(root, options)
  const fallthrough = options?.fallthrough !== false
  // the name serve-static's middleware has, which stack inspections look for
  return function serveStatic(req, res, next) {
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
}
