// Generated from crates/xypriss-napi/src/errors.rs by `npm run generate`: do not edit.
// Every XYP_ERR_* code xypriss throws, from the engine or from lib/.

export const codes = {
  /** A header name or value HTTP cannot carry, given to the engine. */
  INVALID_HEADER: 'XYP_ERR_INVALID_HEADER',
  /** A status code the engine cannot send. */
  INVALID_STATUS: 'XYP_ERR_INVALID_STATUS',
  /** A response call that its exchange's state does not allow (e.g. after it ended). */
  INVALID_STATE: 'XYP_ERR_INVALID_STATE',
  /** A route path the engine's table cannot take. */
  ROUTE_PATTERN: 'XYP_ERR_ROUTE_PATTERN',
  /** A call that needs a listening server. */
  NOT_LISTENING: 'XYP_ERR_NOT_LISTENING',
  /** Any other engine failure. */
  ENGINE: 'XYP_ERR_ENGINE',
  /** XEMS: wrong secret, other hardware or wrong recovery key, or no secret at all. */
  XEMS_KEY: 'XYP_ERR_XEMS_KEY',
  /** XEMS: the store file is damaged or was tampered with. */
  XEMS_INTEGRITY: 'XYP_ERR_XEMS_INTEGRITY',
  /** XEMS: another process has the store open. */
  XEMS_LOCKED: 'XYP_ERR_XEMS_LOCKED',
  /** XEMS: reading or writing the store file failed. */
  XEMS_IO: 'XYP_ERR_XEMS_IO',
  /** XEMS: the store is closed. */
  XEMS_CLOSED: 'XYP_ERR_XEMS_CLOSED',
  /** XEMS: arguments or options rejected. */
  XEMS_INVALID_ARGUMENT: 'XYP_ERR_XEMS_INVALID_ARGUMENT',
  /** XEMS: the store file, or its directory without the sticky bit, is writable by its group or other users. */
  XEMS_PERMISSIONS: 'XYP_ERR_XEMS_PERMISSIONS',
  /** Something Node or Express does that xypriss does not (yet): said, never faked. */
  NOT_SUPPORTED: 'XYP_ERR_NOT_SUPPORTED',
  /** A route method given something other than a function. */
  HANDLER_REQUIRED: 'XYP_ERR_HANDLER_REQUIRED',
  /** No native addon loads on this platform (thrown by lib/ when requiring xypriss). */
  NATIVE_MISSING: 'XYP_ERR_NATIVE_MISSING',
  /** helmet, cors or express-rate-limit would throw for these options (the message is theirs). */
  INVALID_OPTION: 'XYP_ERR_INVALID_OPTION',
  /** Valid helmet / cors / rateLimit options that only the JS middleware can honour (a function, a custom store...): it runs in JS. */
  NOT_NATIVE: 'XYP_ERR_NOT_NATIVE',
} as const

export type ErrorCode = (typeof codes)[keyof typeof codes]
