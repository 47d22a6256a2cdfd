// Express's per-app prototypes: `app.request` / `app.response` inherit from `express.request` /
// `express.response`, a mounted app's from its parent's; what is added to them shows on the req/res
// of that app only. The engine builds each request from a class whose prototype is the listening
// app's `app.request`, so the root app costs nothing per request; a sub-app switches prototypes
// only when its own were extended (Express switches on every entry).
import { EngineIncomingMessage } from './engine/incoming-message'
import { EngineServerResponse } from './engine/server-response'
import { IncomingRequest } from './request'
import { ServerResponse } from './response'
import { isNodePrototype, nodeRequestPrototype, nodeResponsePrototype } from './node-compat'

export const kRequestClass = Symbol('xypriss.requestClass')
export const kResponseClass = Symbol('xypriss.responseClass')

/** An app, as far as its prototypes go. */
export interface PrototypeOwner {
  /** This app's req/res prototypes (Express's `app.request` / `app.response`). */
  request: object
  response: object
  /** The classes the engine builds this app's req/res from. */
  [kRequestClass]: typeof IncomingRequest
  [kResponseClass]: typeof ServerResponse
}

function appOwned(proto: object, app: PrototypeOwner): void {
  // as Express's Object.create(proto, { app }): no own `constructor`, an own `app`
  Reflect.deleteProperty(proto, 'constructor')
  Object.defineProperty(proto, 'app', { configurable: true, enumerable: true, writable: true, value: app })
}

/** Gives `app` its `request` / `response` prototypes and the classes the engine builds them from. */
export function definePrototypes(app: PrototypeOwner): void {
  const AppRequest = class extends IncomingRequest {}
  const AppResponse = class extends ServerResponse {}
  appOwned(AppRequest.prototype, app)
  appOwned(AppResponse.prototype, app)
  app.request = AppRequest.prototype
  app.response = AppResponse.prototype
  app[kRequestClass] = AppRequest
  app[kResponseClass] = AppResponse
}

/** Has anything been added to this app's own prototype (beyond the `app` it starts with)? */
function extended(proto: object): boolean {
  const keys = Reflect.ownKeys(proto)
  return keys.length > 1 || (keys.length === 1 && keys[0] !== 'app')
}

/** The prototype `obj` (whose prototype is `current`) needs in an app whose own is `target`, or undefined to keep it. */
function prototypeFor(
  obj: object,
  current: object,
  target: object,
  base: abstract new (...args: never[]) => object,
  node: (p: object) => object,
): object | undefined {
  if (current === target) return undefined
  if (!(obj instanceof base) || isNodePrototype(current)) {
    const t = node(target)
    return current === t ? undefined : t
  }
  // the engine's object (a plain listener's, with Node's surface only, switches to `target` as
  // Node's would): the same lookups through `target` as through `current` unless extended
  if (Object.getPrototypeOf(target) === current && !extended(target)) return undefined
  return target
}

/** Sets req/res prototypes for `app` (called as the app starts handling them). */
export function adoptPrototypes(req: object, res: object, app: PrototypeOwner): void {
  const reqProto = Object.getPrototypeOf(req)
  const reqTarget = prototypeFor(req, reqProto, app.request, EngineIncomingMessage, nodeRequestPrototype)
  if (reqTarget !== undefined) Object.setPrototypeOf(req, reqTarget)
  const resProto = Object.getPrototypeOf(res)
  const resTarget = prototypeFor(res, resProto, app.response, EngineServerResponse, nodeResponsePrototype)
  if (resTarget !== undefined) Object.setPrototypeOf(res, resTarget)
}
