// Every error xypriss throws from JS, declared once with its code (and HTTP status where it has one).

export interface CodedError extends Error {
  code: string
  status?: number
  statusCode?: number
}

function coded(code: string, message: string, Base: ErrorConstructor = Error): CodedError {
  const error = new Base(message) as CodedError
  error.code = code
  return error
}

export const errors = {
  notSupported: (what: string) =>
    coded('XYP_ERR_NOT_SUPPORTED', `${what} is not supported by xypriss yet`),
  headersSent: (action: string) =>
    coded('ERR_HTTP_HEADERS_SENT', `Cannot ${action} headers after they are sent to the client`),
  invalidHeaderName: (name: string) =>
    coded('ERR_INVALID_HTTP_TOKEN', `Header name must be a valid HTTP token ["${name}"]`, TypeError),
  invalidHeaderValue: (name: string) =>
    coded('ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`, TypeError),
  missingHeaderValue: (name: string) =>
    coded('ERR_HTTP_INVALID_HEADER_VALUE', `Invalid value "undefined" for header "${name}"`, TypeError),
  invalidStatusCode: (code: unknown) =>
    coded('ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(code)}`, RangeError),
  writeAfterEnd: () => coded('ERR_STREAM_WRITE_AFTER_END', 'write after end'),
  invalidChunk: (chunk: unknown) =>
    coded(
      'ERR_INVALID_ARG_TYPE',
      `The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${typeof chunk}`,
      TypeError,
    ),
  serverNotRunning: () => coded('ERR_SERVER_NOT_RUNNING', 'Server is not running.'),
  xems: (code: string, message: string) => coded(code, message),
  callbackRequired: () => coded('XYP_ERR_CALLBACK_REQUIRED', 'argument callback is required', TypeError),
  handlerRequired: (method: string, type: string) =>
    coded('XYP_ERR_HANDLER_REQUIRED', `argument handler must be a function (${method}: ${type})`, TypeError),
}

/** Codes of XEMS errors: thrown by the binding (declared in crates/xypriss-napi/src/errors.rs)
 *  or by lib/xems, always through `errors.xems`. */
export const XEMS_CODES = {
  /** Wrong secret, other hardware, or wrong recovery key. */
  KEY: 'XYP_ERR_XEMS_KEY',
  /** The file is damaged or was tampered with. */
  INTEGRITY: 'XYP_ERR_XEMS_INTEGRITY',
  /** Another process holds the store. */
  LOCKED: 'XYP_ERR_XEMS_LOCKED',
  IO: 'XYP_ERR_XEMS_IO',
  CLOSED: 'XYP_ERR_XEMS_CLOSED',
  INVALID_ARGUMENT: 'XYP_ERR_XEMS_INVALID_ARGUMENT',
  /** The store file or its directory is writable by group or other users. */
  PERMISSIONS: 'XYP_ERR_XEMS_PERMISSIONS',
} as const
