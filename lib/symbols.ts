// Private state of req/res/server, kept off the public surface.
import { OutgoingMessage } from 'node:http'

export const kId = Symbol('xypriss.id')
export const kRawHeaderList = Symbol('xypriss.rawHeaderList')
export const kRawHeaders = Symbol('xypriss.rawHeaders')
export const kHeaders = Symbol('xypriss.headers')
export const kBody = Symbol('xypriss.body')
export const kServer = Symbol('xypriss.server')
// Node's own key for a response's header map, when it can be found: OutgoingMessage's setHeader,
// getHeader and removeHeader, which some libraries call on any response (the `cookies` package
// does when `res.set` exists), then read and write the very map ours use. Same entry shape:
// lower-case name -> [name, value].
export const kOutHeaders: unique symbol = (Object.getOwnPropertySymbols(new OutgoingMessage()).find(
  (s) => s.description === 'kOutHeaders',
  // biome-ignore lint/suspicious/noExplicitAny: a symbol found at run time can be typed `unique symbol` only through any
) ?? Symbol('xypriss.outHeaders')) as any
export const kStreaming = Symbol('xypriss.streaming')
export const kOnAbort = Symbol('xypriss.onAbort')
export const kOnDrain = Symbol('xypriss.onDrain')
export const kBodyChunk = Symbol('xypriss.bodyChunk')
export const kBodyEnd = Symbol('xypriss.bodyEnd')
export const kParsedUrl = Symbol('xypriss.parsedUrl')
export const kParsedOriginalUrl = Symbol('xypriss.parsedOriginalUrl')
/** On an etag generator: 1 weak, 2 strong; the engine can compute that tag itself. */
export const kETagMode = Symbol('xypriss.etagMode')
export const kNativeETag = Symbol('xypriss.nativeETag')
/** On a request: `[stackVersion, index, ...]`, the root stack layers whose path matches, from the engine. */
export const kCandidates = Symbol('xypriss.candidates')
/** On a response: the status line writeHead() fixed, `[code, message]`, as Node serializes it then. */
export const kHead = Symbol('xypriss.head')
/** On a response: Node's shouldKeepAlive / useChunkedEncodingByDefault once set or computed. */
export const kKeepAlive = Symbol('xypriss.keepAlive')
export const kChunkedByDefault = Symbol('xypriss.chunkedByDefault')
/** On a response: setHeader() / hasHeader() for names Express's own members use, by lower-case key. */
export const kSetKnownHeader = Symbol('xypriss.setKnownHeader')
export const kHasKnownHeader = Symbol('xypriss.hasKnownHeader')
/** On a response: its locals, once made. */
export const kLocals = Symbol('xypriss.locals')
/** On a helmet / cors / rateLimit middleware: what its native stage is (see middleware/options.ts). */
export const kNativeStage = Symbol('xypriss.nativeStage')
/** On a request the native prelude ran for: the plan it ran (see prelude.ts). */
export const kPrelude = Symbol('xypriss.prelude')
/** On such a request and its response: what the prelude decided, as the engine wrote it. */
export const kPreludeText = Symbol('xypriss.preludeText')
/** On a response: the prelude's header names not taken into JS yet (undefined once taken or without prelude). */
export const kPreludeNames = Symbol('xypriss.preludeNames')
/** On a response: its headers hold the prelude's (the engine must not add them again). */
export const kPreludeTaken = Symbol('xypriss.preludeTaken')
/** On a response: takes the prelude's headers into its own (see response.ts). */
export const kTakePrelude = Symbol('xypriss.takePrelude')
/** On such a request: the plan, kept for `req.rateLimit` after the router consumed kPrelude. */
export const kPreludePlan = Symbol('xypriss.preludePlan')
/** On a response: its head goes out in Latin-1 whatever its body (see response.ts FLAG_UTF8_HEAD). */
export const kLatin1Head = Symbol('xypriss.latin1Head')
