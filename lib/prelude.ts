// The native prelude: an app's leading helmet / cors / rateLimit / express.static middleware,
// compiled into stages the engine runs before a request wakes JS (crates/xsys-http/src/prelude/).
// What may compile: `app.use([path,] m)` at the top of the root stack, where m is xypriss's
// helmet(), cors(), rateLimit() or express.static() with options the engine can honour, and
// nothing before it runs in JS (error handlers never do for a clean request). The first layer
// that runs in JS ends the prelude. A body parser (express.json()...) compiles there too, but
// only as its limit: it still runs in JS, the engine leaving unread a body it will refuse for
// its length, so only body parsers compile after it.
//
// A request the prelude ran for carries what it decided (engine/prelude.ts): the router skips the
// compiled layers the engine ran (all of them, or those before a static stage only JS could
// settle for this request), the response starts with the headers the stages set (taken into JS
// only when JS touches one of them), and `req.rateLimit` is read from it when asked.
// Background and limits: docs/native-prelude.md.
import { native } from './binding'
import { preludeHead } from './engine/prelude'
import type { HttpServer } from './engine/server'
import type { NativeStage } from './middleware/options'
import type { CompiledLayers, Router } from './router'
import type { Layer } from './router/layer'
import { kETagMode, kNativeStage, kPreludePlan, kPreludeText } from './symbols'

export interface PlanStage {
  /** Index in the app's stack. */
  index: number
  name: string
  kind: NativeStage['kind']
  path: string | string[]
}

export interface PlanEntry {
  index: number
  name: string
  /** Why it runs in JS. */
  reason: string
}

/** `app.nativePlan()`: what runs natively before JS, and why the rest does not. */
export interface NativePlanReport {
  stages: PlanStage[]
  inJs: PlanEntry[]
}

/** What the compile reads of the app. */
export interface PlanApp {
  router: Router
  get(setting: string): unknown
  mirrorRoutes(): void
}

export interface Plan extends CompiledLayers {
  id: number
  app: PlanApp
  /** Lower-case names of every response header a stage may set (X-Powered-By included). */
  headerNames: Set<string>
  /** The rate-limit stages in order: where their info goes, and their runtime validations. */
  rateLimits: Array<{ property: string; notice: ((bits: number) => void) | undefined }>
  /** Hands each rate-limit stage its 3 bits of what the engine saw on its first request. */
  notices(bits: number): void
  /** The layers the engine ran when it ran only the first `ran` stages (see engine/prelude.ts). */
  ranUpTo(ran: number): CompiledLayers
  report: NativePlanReport
  /** The engine's plan, when any stage compiled. */
  native: InstanceType<typeof native.PreludePlan> | undefined
}

let nextPlanId = 1

function describe(layer: Layer, index: number): string {
  const what = layer.route ? `the route ${JSON.stringify(String(layer.spec))}` : layer.name
  return `${what} (index ${index})`
}

/** The stack path of a layer as the engine takes it: null for everywhere, else its string(s). */
function stagePath(spec: unknown): string | string[] | null | undefined {
  if (spec === '/') return null
  if (typeof spec === 'string') return spec
  if (Array.isArray(spec)) {
    const flat = spec.flat(Infinity)
    return flat.every((p) => typeof p === 'string') ? (flat as string[]) : undefined
  }
  return undefined
}

/** Compiles the leading layers of `app`'s root stack. */
export function compilePlan(app: PlanApp): Plan {
  const router = app.router
  const stack = router.stack
  let partial: Plan[] | undefined
  const plan: Plan = {
    id: nextPlanId++,
    router,
    app,
    layers: [],
    indices: [],
    resume: 0,
    headerNames: new Set(),
    rateLimits: [],
    notices(bits) {
      plan.rateLimits.forEach((limiter, ordinal) => {
        const mine = (bits >>> (3 * ordinal)) & 7
        if (mine !== 0) limiter.notice?.(mine)
      })
    },
    ranUpTo(ran) {
      if (ran >= plan.indices.length) return plan
      partial ??= []
      return (partial[ran] ??= Object.create(plan, {
        layers: { value: plan.layers.slice(0, ran) },
        indices: { value: plan.indices.slice(0, ran) },
        resume: { value: plan.indices[ran] },
      }) as Plan)
    },
    report: { stages: [], inJs: [] },
    native: undefined,
    // the stack was changed without the router knowing (its array edited): compile again
    stale: () => app.mirrorRoutes(),
  }
  const stages: Array<{ info: NativeStage; path: string | string[] | null }> = []
  const compiled = new Set<unknown>()
  let blocker: string | undefined
  // the first body parser compiled: it runs in JS, so only body parsers compile after it
  let parser: string | undefined
  stack.forEach((layer, index) => {
    // an error handler never runs for a request no stage failed
    if (!layer.route && layer.handle.length === 4) return
    const info = layer.route ? undefined : (layer.handle as { [kNativeStage]?: NativeStage })[kNativeStage]
    if (blocker === undefined && parser !== undefined && info?.kind !== 'bodyLimit') blocker = parser
    if (blocker !== undefined) {
      if (!layer.route) plan.report.inJs.push({ index, name: layer.name, reason: info ? `after ${blocker}, which runs in JS before it` : 'not a native middleware' })
      return
    }
    if (layer.route) {
      blocker = describe(layer, index)
      return
    }
    const path = stagePath(layer.spec)
    let reason: string | undefined
    if (info === undefined) reason = 'not a native middleware'
    else if (info.stage === undefined) reason = info.reason
    else if (path === undefined) reason = 'mounted on a RegExp path, which is matched in JS'
    // a limiter counts each time it runs (helmet and cors set the same headers again, a static
    // layer looks for the same file again: those compile twice)
    else if (info.kind === 'rateLimit' && compiled.has(info.stage)) reason = 'the same middleware already runs natively before it (it counts twice in JS)'
    else reason = info.appReason?.(app)
    if (info === undefined || reason !== undefined || path === undefined) {
      plan.report.inJs.push({ index, name: layer.name, reason: reason ?? 'not a native middleware' })
      blocker = describe(layer, index)
      return
    }
    compiled.add(info.stage)
    stages.push({ info, path })
    plan.report.stages.push({ index, name: layer.name, kind: info.kind, path: path ?? '/' })
    // the router runs a body parser (the engine only leaves a refused body unread), so the
    // mirror keeps its layer too
    if (info.kind === 'bodyLimit') {
      parser ??= describe(layer, index)
      return
    }
    plan.layers.push(layer)
    plan.indices.push(index)
    plan.resume = index + 1
    for (const name of info.headerNames) plan.headerNames.add(name)
    if (info.kind === 'rateLimit') plan.rateLimits.push({ property: info.requestPropertyName ?? 'rateLimit', notice: info.notice })
  })
  if (stages.length !== 0) {
    plan.headerNames.add('x-powered-by')
    const etagFn = app.get('etag fn') as { [kETagMode]?: number } | undefined
    const etag = etagFn?.[kETagMode] ?? 0
    const prelude = new native.PreludePlan(plan.id, Boolean(router.caseSensitive), etag)
    for (const { info, path } of stages) {
      const stage = info.stage
      if (stage instanceof native.HelmetStage) prelude.helmet(stage, path)
      else if (stage instanceof native.CorsStage) prelude.cors(stage, path)
      else if (stage instanceof native.RateLimitStage) prelude.rateLimit(stage, path)
      else if (stage instanceof native.StaticStage) prelude.staticFiles(stage, path)
      else if (stage !== undefined) prelude.bodyLimit(stage.limit, stage.types, path)
    }
    plan.native = prelude
  }
  return plan
}

/** Hands `server`'s engine the plan (or takes its prelude away when nothing compiled). */
export function installPlan(server: HttpServer, plan: Plan): void {
  if (plan.native === undefined) {
    server.native.clearPrelude()
    return
  }
  // Requests already on their way carry older plans: keep a few.
  server.preludePlans.set(plan.id, plan)
  for (const id of server.preludePlans.keys()) {
    if (server.preludePlans.size <= 64) break
    server.preludePlans.delete(id)
  }
  server.native.setPrelude(plan.native)
}

/** A request as the rate-limit accessor reads it. */
interface PreludeRequest {
  [kPreludePlan]?: object
  [kPreludeText]?: string
}

/**
 * `req[name]` for a rate-limit stage the prelude ran: an accessor on the app's request prototype
 * that reads the engine's values on first use and then keeps them as the request's own property
 * (what express-rate-limit sets).
 */
export function defineRateLimitProperty(proto: object, name: string): void {
  if (Object.getOwnPropertyDescriptor(proto, name) !== undefined) return
  const own = (req: object, value: unknown) => Object.defineProperty(req, name, { configurable: true, enumerable: true, writable: true, value })
  Object.defineProperty(proto, name, {
    configurable: true,
    get(this: PreludeRequest) {
      const info = rateLimitInfo(this, name)
      if (info !== undefined) own(this, info)
      return info
    },
    set(this: object, value: unknown) {
      own(this, value)
    },
  })
}

/** express-rate-limit's `req.rateLimit` (`current` as its non-enumerable alias of `used`). */
interface RateLimitInfo {
  limit: number
  used: number
  remaining: number
  resetTime: Date
  key: string
}

function rateLimitInfo(req: PreludeRequest, name: string): RateLimitInfo | undefined {
  const plan = req[kPreludePlan] as Plan | undefined
  const text = req[kPreludeText]
  if (plan === undefined || text === undefined) return undefined
  const { lines } = preludeHead(text)
  let found: RateLimitInfo | undefined
  // a later limiter with the same property overwrites an earlier one's, as in Express
  for (let i = 4; i + 5 < lines.length; i += 6) {
    if (plan.rateLimits[Number(lines[i])]?.property !== name) continue
    const used = Number(lines[i + 2])
    found = { limit: Number(lines[i + 1]), used, remaining: Number(lines[i + 3]), resetTime: new Date(Number(lines[i + 4])), key: lines[i + 5] }
    Object.defineProperty(found, 'current', { configurable: false, enumerable: false, value: used })
  }
  return found
}

/** The plan as DEBUG=xypriss:native prints it. */
export function formatPlan(report: NativePlanReport): string {
  const lines = ['native prelude:']
  if (report.stages.length === 0) lines.push('  (no stage: every middleware runs in JS)')
  for (const stage of report.stages) {
    const at = Array.isArray(stage.path) ? JSON.stringify(stage.path) : stage.path
    lines.push(`  [${stage.index}] ${stage.kind} at ${at} (${stage.name})`)
  }
  for (const entry of report.inJs) lines.push(`  [${entry.index}] ${entry.name} runs in JS: ${entry.reason}`)
  return lines.join('\n')
}
