// xypriss.helmet(options): helmet 8's headers, computed once in Rust (crates/xsys-security) from
// helmet's own options, with its setup errors and warnings. As ordinary middleware it sets that
// list with setHeader; at the top of an app the engine sets it before JS runs (see ../prelude.ts).
// Options only JS can honour (a CSP directive computed per request) run helmet itself.
import { native } from '../binding'
import { kNativeStage } from '../symbols'
import { encodeOptions, isInvalidOption, isNotNative, type NativeStage, packageError, type StageError, type StageMiddleware } from './options'

type Middleware = StageMiddleware & { [kNativeStage]?: NativeStage }

/** helmet itself, for what only it can do (and its standalone middleware). */
function npmHelmet(): ((options?: unknown) => Middleware) & Record<string, unknown> {
  // loaded on first need: most apps never do
  return require('helmet')
}

export function helmet(options?: Readonly<import('helmet').HelmetOptions>): Middleware {
  let stage: InstanceType<typeof native.HelmetStage>
  try {
    stage = native.HelmetStage.create(encodeOptions(options))
  } catch (error) {
    if (isInvalidOption(error as StageError)) throw packageError(error as StageError)
    if (!isNotNative(error as StageError)) throw error
    const middleware = npmHelmet()(options)
    middleware[kNativeStage] = {
      kind: 'helmet',
      stage: undefined,
      reason: (error as Error).message,
      headerNames: [],
    }
    return middleware
  }
  const warnings = stage.warnings()
  for (let i = 0; i < warnings.length; i += 3) console.warn(warnings[i + 2])
  const headers = stage.headers()
  const removesPoweredBy = stage.removesPoweredBy()
  const headerNames: string[] = []
  for (let i = 0; i < headers.length; i += 2) headerNames.push(headers[i].toLowerCase())
  if (removesPoweredBy) headerNames.push('x-powered-by')
  // helmet's own name for it, which stack inspections look for
  const middleware: Middleware = function helmetMiddleware(_req, res, next) {
    for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i], headers[i + 1])
    if (removesPoweredBy) res.removeHeader('X-Powered-By')
    next()
  }
  middleware[kNativeStage] = { kind: 'helmet', stage, reason: undefined, headerNames }
  return middleware
}

// helmet's standalone middleware and constants (contentSecurityPolicy.dangerouslyDisableDefaultSrc,
// getDefaultDirectives...), as helmet exports them; they run in JS.
for (const name of [
  'contentSecurityPolicy',
  'crossOriginEmbedderPolicy',
  'crossOriginOpenerPolicy',
  'crossOriginResourcePolicy',
  'originAgentCluster',
  'referrerPolicy',
  'strictTransportSecurity',
  'xContentTypeOptions',
  'xDnsPrefetchControl',
  'xDownloadOptions',
  'xFrameOptions',
  'xPermittedCrossDomainPolicies',
  'xPoweredBy',
  'xXssProtection',
  'dnsPrefetchControl',
  'frameguard',
  'hidePoweredBy',
  'hsts',
  'ieNoOpen',
  'noSniff',
  'permittedCrossDomainPolicies',
  'xssFilter',
]) {
  Object.defineProperty(helmet, name, { enumerable: true, get: () => npmHelmet()[name] })
}
