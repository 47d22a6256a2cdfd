// Generated from LAYOUT in crates/xypriss-napi/src/batch.rs by `npm run generate`: do not edit.
// The engine's event batch is one flat array: each event is its tag, then its fields in
// this order. The reader indexes it with these constants (inlined by the build).

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

/** Slots of the Connection event after its tag; Stride counts the tag too. */
export enum ConnectionEvent {
  /** number: the connection id */
  Id = 1,
  /** string | undefined (undefined on a Unix socket) */
  RemoteAddress = 2,
  /** number | undefined */
  RemotePort = 3,
  /** 4 | 6 | undefined */
  Family = 4,
  /** string | undefined */
  LocalAddress = 5,
  /** number | undefined */
  LocalPort = 6,
  Stride = 7,
}

/** Slots of the Request event after its tag; Stride counts the tag too. */
export enum RequestEvent {
  /** number: the request id (or the handed-over connection's) */
  Id = 1,
  /** number: the id of its connection */
  Connection = 2,
  /** string */
  Method = 3,
  /** string: the request target as sent, latin1 */
  Url = 4,
  /** number: 0 or 1; plus 2 for a request beyond server.maxRequestsPerSocket, which Node drops ('dropRequest', then 503) */
  HttpMinor = 5,
  /** string: `name\nvalue\n...`, names lower-case, latin1 */
  Headers = 6,
  /** false: none; true: it streams as Body events; Buffer: all of it; [Buffer]: the connection is handed over, with what followed the head */
  Body = 7,
  /** number[] | undefined: [stack version, index, ...] of the layers whose path matches */
  Candidates = 8,
  /** string | undefined: what the native prelude decided (plan, notices, req.rateLimit values, headers; see xsys-http's prelude.rs), undefined when it did not run */
  Prelude = 9,
  Stride = 10,
}

/** Slots of the Body event after its tag; Stride counts the tag too. */
export enum BodyEvent {
  /** number: the request id (or the handed-over connection's) */
  Id = 1,
  /** Buffer */
  Chunk = 2,
  Stride = 3,
}

/** Slots of the BodyEnd event after its tag; Stride counts the tag too. */
export enum BodyEndEvent {
  /** number: the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}

/** Slots of the Aborted event after its tag; Stride counts the tag too. */
export enum AbortedEvent {
  /** number: the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}

/** Slots of the Drain event after its tag; Stride counts the tag too. */
export enum DrainEvent {
  /** number: the request id (or the handed-over connection's) */
  Id = 1,
  Stride = 2,
}

/** Slots of the ConnectionClosed event after its tag; Stride counts the tag too. */
export enum ConnectionClosedEvent {
  /** number: the connection id */
  Id = 1,
  Stride = 2,
}

/** Slots of the Closed event after its tag; Stride counts the tag too. */
export enum ClosedEvent {
  Stride = 1,
}

/** Slots of the PreludeNotices event after its tag; Stride counts the tag too. */
export enum PreludeNoticesEvent {
  /** number: the native prelude's id */
  Plan = 1,
  /** number: what its rate limiters saw on their first request (3 bits each: came, X-Forwarded-For, Forwarded) */
  Bits = 2,
  Stride = 3,
}

/** Slots of the Dropped event after its tag; Stride counts the tag too. */
export enum DroppedEvent {
  /** string | undefined: a connection closed as accepted, beyond server.maxConnections (undefined on a Unix socket) */
  RemoteAddress = 1,
  /** number | undefined */
  RemotePort = 2,
  /** 4 | 6 | undefined */
  Family = 3,
  /** string | undefined */
  LocalAddress = 4,
  /** number | undefined */
  LocalPort = 5,
  Stride = 6,
}
