// The engine's mirror of an app's root stack: with it, the engine answers a request nothing in
// the stack can match (Express's 404) without waking JS. The page it answers with is Express's,
// given here; the engine knows nothing of Express.
import type { NativeServer } from './binding'
import type { Router } from './router'

/** What Express sends as X-Powered-By while the app's 'x-powered-by' setting is on. */
export const POWERED_BY = 'Express'

// finalhandler's page for a request nothing answered, around `<METHOD> <path>`: the engine puts
// them in, the path percent-encoded (encodeurl) and both HTML-escaped, as finalhandler does.
const NOT_FOUND_BODY = [
  '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot ',
  ' ',
  '</pre>\n</body>\n</html>\n',
]
const NOT_FOUND_HEADERS = "Content-Security-Policy:default-src 'none'\nX-Content-Type-Options:nosniff\nContent-Type:text/html; charset=utf-8\n"

/**
 * The server's native 404, and the headers every response has before the stack runs (Express's
 * X-Powered-By, or none), which the native answers start from.
 */
export function setNotFoundPage(engine: NativeServer, poweredBy: boolean): void {
  engine.setInitialHeaders(poweredBy ? `X-Powered-By:${POWERED_BY}\n` : '')
  engine.setNotFoundPage(404, NOT_FOUND_HEADERS, NOT_FOUND_BODY)
}

/**
 * Mirrors `router`'s stack into the engine, layer by layer (a path and its methods), but for the
 * layers at `run` (the native prelude runs them), then has the engine route with it. Anything the
 * table cannot model (a RegExp path) turns the mirror off: every request then goes to JS.
 */
export function mirrorStack(engine: NativeServer, router: Router, run: readonly number[] = []): void {
  engine.resetRoutes(router.caseSensitive, router.strict, router.version)
  router.mirrored = true
  try {
    router.stack.forEach((layer, index) => {
      if (!layer.route && layer.handle.length === 4) return // error handlers never match a clean request
      if (run.includes(index)) return
      // A string and a one-element array differ, as in Express: '/' matches every path, ['/'] only '/'.
      const spec = layer.spec
      const paths = Array.isArray(spec) ? spec.flat(Infinity) : spec
      if (typeof paths !== 'string' && !(Array.isArray(paths) && paths.every((p) => typeof p === 'string'))) {
        throw new Error('RegExp paths are matched in JS')
      }
      const methodNames: string[] = layer.route ? layer.route._methods() : ['ALL']
      if (layer.route?.methods._all) methodNames.push('ALL')
      engine.insertRoute(index, paths as string | string[], layer.end, methodNames)
    })
    engine.commitRoutes()
  } catch {
    engine.disableRoutes()
  }
}
