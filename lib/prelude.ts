// The native prelude: an app's leading helmet / cors / rateLimit middleware, compiled into stages
// the engine runs before a request wakes JS (crates/xsys-http/src/prelude.rs). What may compile:
// `app.use([path,] m)` at the top of the root stack, where m is xypriss's helmet(), cors() or
// rateLimit() with options the engine can honour, and nothing before it runs in JS (error
// handlers never do for a clean request). The first layer that runs in JS ends the prelude.
//
// A request the prelude ran for carries what it decided (see Carried::text in prelude.rs): JS
// skips the compiled layers, the response starts with the headers the stages set (taken into JS
// only when JS touches one of them), and `req.rateLimit` is read from it when asked.
// Background and limits: docs/native-prelude.md.
import { native } from './binding'
import type { Layer } from './router/layer'
import { kETagMode, kNativeStage, kPrelude, kPreludeNames, kPreludePlan, kPreludeText, kTakePrelude } from './symbols'
import type { NativeStage } from './middleware/options'

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

export interface Plan {
  id: number
  /** The router whose leading layers were compiled. */
  router: unknown
  app: unknown
  /** The compiled layers, in stack order. */
  layers: Layer[]
  /** Their stack indices. */
  indices: number[]
  /** The first stack index after them. */
  resume: number
  /** Lower-case names of every response header a stage may set (X-Powered-By included). */
  headerNames: Set<string>
  /** The rate-limit stages in order: where their info goes, and their runtime validations. */
  rateLimits: Array<{ property: string; notice: ((bits: number) => void) | undefined }>
  report: NativePlanReport
  /** The engine's plan, when any stage compiled. */
  native: InstanceType<typeof native.PreludePlan> | undefined
}

let nextPlanId = 1

function describe(layer: Layer, index: number): string {
  const what = layer.route ? `the route ${String(layer.route.path)}` : layer.name
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
export function compilePlan(app: any): Plan {
  const router = app.router
  const stack: Layer[] = router.stack
  const plan: Plan = {
    id: nextPlanId++,
    router,
    app,
    layers: [],
    indices: [],
    resume: 0,
    headerNames: new Set(),
    rateLimits: [],
    report: { stages: [], inJs: [] },
    native: undefined,
  }
  const stages: Array<{ info: NativeStage; path: string | string[] | null }> = []
  const compiled = new Set<unknown>()
  let blocker: string | undefined
  stack.forEach((layer, index) => {
    // an error handler never runs for a request no stage failed
    if (!layer.route && layer.handle.length === 4) return
    const info: NativeStage | undefined = layer.route ? undefined : (layer.handle as any)[kNativeStage]
    if (blocker !== undefined) {
      if (!layer.route) plan.report.inJs.push({ index, name: layer.name, reason: info ? `after ${blocker}, which runs in JS before it` : 'not a native middleware' })
      return
    }
    if (layer.route) {
      blocker = describe(layer, index)
      return
    }
    let reason: string | undefined
    const path = stagePath(layer.spec)
    if (!info) reason = 'not a native middleware'
    else if (!info.stage) reason = info.reason
    else if (path === undefined) reason = 'mounted on a RegExp path, which is matched in JS'
    else if (compiled.has(info.stage)) reason = 'the same middleware already runs natively before it (it counts twice in JS)'
    else reason = info.appReason?.(app)
    if (reason !== undefined || !info) {
      plan.report.inJs.push({ index, name: layer.name, reason: reason ?? 'not a native middleware' })
      blocker = describe(layer, index)
      return
    }
    compiled.add(info.stage)
    stages.push({ info, path: path! })
    plan.layers.push(layer)
    plan.indices.push(index)
    plan.resume = index + 1
    plan.report.stages.push({ index, name: layer.name, kind: info.kind, path: path ?? '/' })
    for (const name of info.headerNames) plan.headerNames.add(name)
    if (info.kind === 'rateLimit') plan.rateLimits.push({ property: info.requestPropertyName ?? 'rateLimit', notice: info.notice })
  })
  if (stages.length !== 0) {
    plan.headerNames.add('x-powered-by')
    const etagFn = app.get('etag fn')
    const etag = etagFn === undefined ? 0 : (etagFn[kETagMode] ?? 0)
    const prelude = new native.PreludePlan(plan.id, Boolean(router.caseSensitive), etag)
    for (const { info, path } of stages) {
      if (info.kind === 'helmet') prelude.helmet(info.stage as any, path)
      else if (info.kind === 'cors') prelude.cors(info.stage as any, path)
      else prelude.rateLimit(info.stage as any, path)
    }
    plan.native = prelude
  }
  return plan
}

/**
 * `req[name]` for a rate-limit stage the prelude ran: an accessor on the app's request prototype
 * that reads the engine's values on first use and then keeps them as the request's own property
 * (what express-rate-limit sets).
 */
export function defineRateLimitProperty(proto: object, name: string): void {
  const own = Object.getOwnPropertyDescriptor(proto, name)
  if (own !== undefined) return
  Object.defineProperty(proto, name, {
    configurable: true,
    get(this: any) {
      const info = rateLimitInfo(this, name)
      if (info !== undefined) Object.defineProperty(this, name, { configurable: true, enumerable: true, writable: true, value: info })
      return info
    },
    set(this: any, value: unknown) {
      Object.defineProperty(this, name, { configurable: true, enumerable: true, writable: true, value })
    },
  })
}

/** The lines of a prelude text up to where its headers start, and that position. */
function preludeHead(text: string): { lines: string[]; headersAt: number } {
  const lines: string[] = []
  let at = 0
  const take = () => {
    const end = text.indexOf('\n', at)
    const line = text.slice(at, end)
    at = end + 1
    return line
  }
  lines.push(take(), take(), take())
  const count = Number(lines[2])
  for (let i = 0; i < count * 6; i++) lines.push(take())
  return { lines, headersAt: at }
}

function rateLimitInfo(req: any, name: string) {
  const plan: Plan | undefined = req[kPreludePlan]
  const text: string | undefined = req[kPreludeText]
  if (plan === undefined || text === undefined) return undefined
  const { lines } = preludeHead(text)
  let found: any
  for (let i = 3; i + 5 < lines.length; i += 6) {
    const limiter = plan.rateLimits[Number(lines[i])]
    if (limiter?.property !== name) continue
    const used = Number(lines[i + 2])
    found = { limit: Number(lines[i + 1]), used, remaining: Number(lines[i + 3]), resetTime: new Date(Number(lines[i + 4])), key: lines[i + 5] }
    Object.defineProperty(found, 'current', { configurable: false, enumerable: false, value: used })
  }
  return found
}

/**
 * The headers the stages set for a request, as `[lower-case name, [Name, value]]` in order (a
 * name set twice, by res.append, has an array of values).
 */
export function preludeHeaders(text: string): Array<[string, [string, string | string[]]]> {
  const out: Array<[string, [string, string | string[]]]> = []
  const byName = new Map<string, [string, string | string[]]>()
  let at = preludeHead(text).headersAt
  while (at < text.length) {
    const end = text.indexOf('\n', at)
    const colon = text.indexOf(':', at)
    const name = text.slice(at, colon)
    const value = text.slice(colon + 1, end)
    at = end + 1
    const key = name.toLowerCase()
    const entry = byName.get(key)
    if (entry === undefined) {
      const created: [string, string | string[]] = [name, value]
      byName.set(key, created)
      out.push([key, created])
    } else {
      entry[1] = Array.isArray(entry[1]) ? [...entry[1], value] : [entry[1], value]
    }
  }
  return out
}

/** Tells the rate-limit stages what the engine saw on their first request (their validations). */
function deliverNotices(plan: Plan, text: string): void {
  const second = text.indexOf('\n') + 1
  if (text.charCodeAt(second) === 48 /* '0' */ && text.charCodeAt(second + 1) === 10) return
  deliverNoticeBits(plan, Number(text.slice(second, text.indexOf('\n', second))))
}

/** The same, from the engine's own event (when no request carried them to JS). */
export function deliverNoticeBits(plan: Plan, bits: number): void {
  plan.rateLimits.forEach((limiter, ordinal) => {
    const mine = (bits >>> (3 * ordinal)) & 7
    if (mine !== 0) limiter.notice?.(mine)
  })
}

/** The plan a request was run with, by the id its text starts with. */
export function planId(text: string): number {
  return Number.parseInt(text, 10)
}

/** Gives a request the native prelude ran for, and its response, what the prelude decided. */
export function attachPrelude(req: any, res: any, text: string, plans: Map<number, Plan>): void {
  const plan = plans.get(planId(text))
  res[kPreludeText] = text
  if (plan === undefined) {
    // Not a plan this server installed: keep its headers, and let JS run every layer.
    res[kTakePrelude]()
    return
  }
  req[kPrelude] = plan
  req[kPreludePlan] = plan
  req[kPreludeText] = text
  res[kPreludeNames] = plan.headerNames
  deliverNotices(plan, text)
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
