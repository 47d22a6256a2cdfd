// Every error xypriss throws with a code, declared once. xypriss's own `XYP_ERR_*` codes come from
// the table the engine shares (./error-codes, generated from the binding); the others are the
// codes Node and Express give the same errors, so code that tests for them keeps working.
import { codes } from './error-codes'

export { codes }

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
  notSupported: (what: string) => coded(codes.NOT_SUPPORTED, `${what} is not supported by xypriss yet`),
  handlerRequired: (method: string, type: string) =>
    coded(codes.HANDLER_REQUIRED, `argument handler must be a function (${method}: ${type})`, TypeError),
  /** No native addon loads: the message says which platform, which package and the fix. */
  nativeMissing: (message: string, cause: unknown) => Object.assign(coded(codes.NATIVE_MISSING, message), { cause }),
  /** An XEMS error raised in JS (`codes.XEMS_*`), or one the binding returned as a value. */
  xems: (code: string, message: string) => coded(code, message),

  // Node's
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
  invalidStatusMessage: () => coded('ERR_INVALID_CHAR', 'Invalid character in statusMessage', TypeError),
  invalidArgValue: (name: string, value: unknown) =>
    coded('ERR_INVALID_ARG_VALUE', `The argument '${name}' is invalid. Received ${JSON.stringify(value)}`, TypeError),
  writeAfterEnd: () => coded('ERR_STREAM_WRITE_AFTER_END', 'write after end'),
  invalidChunk: (chunk: unknown) =>
    coded(
      'ERR_INVALID_ARG_TYPE',
      `The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${typeof chunk}`,
      TypeError,
    ),
  serverNotRunning: () => coded('ERR_SERVER_NOT_RUNNING', 'Server is not running.'),
  badPort: (port: unknown) =>
    coded('ERR_SOCKET_BAD_PORT', `options.port should be >= 0 and < 65536. Received ${String(port)}.`, RangeError),
  /** The client went away mid-request, as Node reports it on the request. */
  aborted: () => coded('ECONNRESET', 'aborted'),

  // Express's (res.sendFile)
  sendAborted: () => coded('ECONNABORTED', 'Request aborted'),
  sendIsDirectory: () => coded('EISDIR', 'EISDIR, read'),
}
