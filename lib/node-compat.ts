// When an app is the listener of Node's own server (`http.createServer(app)`,
// `https.createServer(opts, app)`), its req/res are Node's objects. They get Express's members the
// way Express gives them, by prototype: the app's `app.request` / `app.response` chain (so what is
// added there or to `express.request` / `express.response` shows), under a layer that holds Node's
// own members, which win over the engine's versions of the same names.
// Slower than the engine's own objects (a prototype switch per request) but the same behaviour.
import { EventEmitter } from 'node:events'
import http from 'node:http'
import { Readable } from 'node:stream'

/**
 * The own properties of `proto` and its ancestors up to `shared`, the first prototype the engine's
 * chain shares with Node's (Readable.prototype for requests, EventEmitter.prototype for responses):
 * what Node's objects find there, flattened into one map, the nearer definition winning.
 */
function nodeMembers(proto: object, shared: object): PropertyDescriptorMap {
  const chain: object[] = []
  for (let p: object | null = proto; p !== null && p !== shared && p !== Object.prototype; p = Object.getPrototypeOf(p)) chain.push(p)
  const members: PropertyDescriptorMap = {}
  for (const p of chain.reverse()) Object.assign(members, Object.getOwnPropertyDescriptors(p))
  return members
}

const requestMembers = nodeMembers(http.IncomingMessage.prototype, Readable.prototype)
// What the engine's request answers from its raw header string, Node's from its headers object.
requestMembers.hasRawHeader = {
  configurable: true,
  writable: true,
  value: function hasRawHeader(this: http.IncomingMessage, lowercaseName: string) {
    return this.headers[lowercaseName] !== undefined
  },
}
const responseMembers = nodeMembers(http.ServerResponse.prototype, EventEmitter.prototype)

const twins = new WeakMap<object, object>()
const twinSet = new WeakSet<object>()

function twin(proto: object, members: PropertyDescriptorMap): object {
  let t = twins.get(proto)
  if (t === undefined) {
    t = Object.create(proto, members) as object
    twins.set(proto, t)
    twinSet.add(t)
  }
  return t
}

/** The prototype Node's request gets in an app whose `app.request` is `proto`. */
export function nodeRequestPrototype(proto: object): object {
  return twin(proto, requestMembers)
}

/** The prototype Node's response gets in an app whose `app.response` is `proto`. */
export function nodeResponsePrototype(proto: object): object {
  return twin(proto, responseMembers)
}

/** Whether `proto` is one of the prototypes above (the object is Node's, not the engine's). */
export function isNodePrototype(proto: object): boolean {
  return twinSet.has(proto)
}
