// Generated from LAYOUT in crates/xypriss-napi/src/batch.rs by `npm run generate`: do not edit.
// The engine's event batch comes as the arguments of one call: a Float64Array of the events'
// numbers (each event is its tag, then its numbers in this order), then the events' strings
// and Buffers, in event order, each event's in the order given below (spread, or in one array
// when there are very many). The reader indexes the numbers with these constants (inlined by
// the build) and takes the values one after the other.

export enum Tag {
  Connection = 0,
  Request = 1,
  Body = 2,
  BodyEnd = 3,
  Aborted = 4,
  Drain = 5,
  ConnectionClosed = 6,
  Closed = 7,
  PreludeNotices = 8,
  Dropped = 9,
}

/** Tags at or above this one are unknown: the rest of the batch cannot be read. */
export const TAG_COUNT = 10

/** A request's method by its number (Node's http.METHODS). */
export const METHODS: readonly string[] = [
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'M-SEARCH',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
]

/** What the Request event's `body` number says. */
export enum BodyKind {
  None = 0,
  Streams = 1,
  Whole = 2,
  HandedOver = 3,
}

/** Numbers of the Connection event after its tag; Stride counts the tag too. */
export enum ConnectionEvent {
  /** the connection id */
  Id = 1,
  /** 4 or 6; 0 on a Unix socket, which has no addresses or ports */
  Family = 2,
  /** the client's port */
  RemotePort = 3,
  /** the server's port */
  LocalPort = 4,
  Stride = 5,
}
// Values of the Connection event, in order:
// - remoteAddress: string: the client's address (not on a Unix socket)
// - localAddress: string: the server's address (not on a Unix socket)

/** Numbers of the Request event after its tag, then as many numbers as `candidates` says; Stride counts the tag too. */
export enum RequestEvent {
  /** the request id (or the handed-over connection's) */
  Id = 1,
  /** the id of its connection */
  Connection = 2,
  /** 0 or 1; plus 2 for a request beyond server.maxRequestsPerSocket, which Node drops ('dropRequest', then 503) */
  HttpMinor = 3,
  /** its index in METHODS; -1: the method is the next value */
  Method = 4,
  /** BodyKind: none, streams as Body events, whole (the next value), or the connection is handed over (the next value: what followed the head) */
  Body = 5,
  /** 1 when the native prelude ran for it (its decisions are the last value), else 0 */
  Prelude = 6,
  /** how many numbers follow: the stack version, then the indices of the layers whose path matches; 0 when not known */
  Candidates = 7,
  Stride = 8,
}
// Values of the Request event, in order:
// - method: string, when its number is -1
// - url: string: the request target as sent, latin1
// - headers: string: `name\nvalue\n...`, names lower-case, latin1
// - body: Buffer, when `body` is Whole (all of it) or HandedOver (what followed the head)
// - prelude: string, when `prelude` is 1: what the native prelude decided (plan, notices, req.rateLimit values, headers; see xsys-http's prelude), latin1

/** Numbers of the Body event after its tag; Stride counts the tag too. */
export enum BodyEvent {
  /** the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}
// Values of the Body event, in order:
// - chunk: Buffer

/** Numbers of the BodyEnd event after its tag; Stride counts the tag too. */
export enum BodyEndEvent {
  /** the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}

/** Numbers of the Aborted event after its tag; Stride counts the tag too. */
export enum AbortedEvent {
  /** the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}

/** Numbers of the Drain event after its tag; Stride counts the tag too. */
export enum DrainEvent {
  /** the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}

/** Numbers of the ConnectionClosed event after its tag; Stride counts the tag too. */
export enum ConnectionClosedEvent {
  /** the connection id */
  Id = 1,
  Stride = 2,
}

/** Numbers of the Closed event after its tag; Stride counts the tag too. */
export enum ClosedEvent {
  Stride = 1,
}

/** Numbers of the PreludeNotices event after its tag; Stride counts the tag too. */
export enum PreludeNoticesEvent {
  /** the native prelude's id */
  Plan = 1,
  /** what its rate limiters saw on their first request (3 bits each: came, X-Forwarded-For, Forwarded) */
  Bits = 2,
  Stride = 3,
}

/** Numbers of the Dropped event after its tag; Stride counts the tag too. */
export enum DroppedEvent {
  /** a connection closed as accepted, beyond server.maxConnections: 4 or 6; 0 on a Unix socket, which has no addresses or ports */
  Family = 1,
  /** the client's port */
  RemotePort = 2,
  /** the server's port */
  LocalPort = 3,
  Stride = 4,
}
// Values of the Dropped event, in order:
// - remoteAddress: string: the client's address (not on a Unix socket)
// - localAddress: string: the server's address (not on a Unix socket)
