// When an app is the listener of Node's own server (`http.createServer(app)`,
// `https.createServer(opts, app)`), its req/res are Node's objects. They get Express's members
// the way Express gives them: by prototype, here onto prototypes that inherit from Node's.
// Slower than the engine's own objects (prototype switch per request) but the same behaviour.
import http from 'node:http'
import { IncomingRequest } from './request'
import { ServerResponse } from './response'

// Express 5's request and response members (express/lib/request.js, response.js).
const REQUEST_MEMBERS = [
  'header', 'get', 'accepts', 'acceptsEncodings', 'acceptsCharsets', 'acceptsLanguages', 'range',
  'query', 'is', 'protocol', 'secure', 'ip', 'ips', 'subdomains', 'path', 'host', 'hostname',
  'fresh', 'stale', 'xhr',
]
const RESPONSE_MEMBERS = [
  'status', 'links', 'send', 'json', 'jsonp', 'sendStatus', 'sendFile', 'download', 'type',
  'contentType', 'format', 'attachment', 'append', 'header', 'set', 'get', 'clearCookie', 'cookie',
  'location', 'redirect', 'vary', 'render',
]

function lend(target: object, source: object, names: string[]) {
  for (const name of names) {
    const descriptor = Object.getOwnPropertyDescriptor(source, name)
    if (descriptor) Object.defineProperty(target, name, descriptor)
  }
}

const nodeRequest = Object.create(http.IncomingMessage.prototype)
lend(nodeRequest, IncomingRequest.prototype, REQUEST_MEMBERS)
// What the engine's request answers from its raw header string, Node's from its headers object.
nodeRequest.hasRawHeader = function hasRawHeader(this: http.IncomingMessage, lowercaseName: string) {
  return this.headers[lowercaseName] !== undefined
}

const nodeResponse = Object.create(http.ServerResponse.prototype)
lend(nodeResponse, ServerResponse.prototype, RESPONSE_MEMBERS)

/** Gives Node's req/res Express's members; the engine's own objects already have them. */
export function adoptNodeObjects(req: any, res: any): void {
  if (req instanceof IncomingRequest) return
  Object.setPrototypeOf(req, nodeRequest)
  Object.setPrototypeOf(res, nodeResponse)
}
