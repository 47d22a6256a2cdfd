// Private state of req/res/server, kept off the public surface.
export const kId = Symbol('xypriss.id')
export const kRawHeaderList = Symbol('xypriss.rawHeaderList')
export const kRawHeaders = Symbol('xypriss.rawHeaders')
export const kHeaders = Symbol('xypriss.headers')
export const kBody = Symbol('xypriss.body')
export const kServer = Symbol('xypriss.server')
export const kOutHeaders = Symbol('xypriss.outHeaders')
export const kStreaming = Symbol('xypriss.streaming')
export const kOnAbort = Symbol('xypriss.onAbort')
export const kOnDrain = Symbol('xypriss.onDrain')
export const kBodyChunk = Symbol('xypriss.bodyChunk')
export const kBodyEnd = Symbol('xypriss.bodyEnd')
export const kParsedUrl = Symbol('xypriss.parsedUrl')
/** On an etag generator: 1 weak, 2 strong; the engine can compute that tag itself. */
export const kETagMode = Symbol('xypriss.etagMode')
export const kNativeETag = Symbol('xypriss.nativeETag')
/** On a request: `[stackVersion, index, ...]`, the root stack layers whose path matches, from the engine. */
export const kCandidates = Symbol('xypriss.candidates')
