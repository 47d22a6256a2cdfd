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
  nativeMissing: (message: string, cause: unknown) =>
    Object.assign(coded('XYP_ERR_NATIVE_MISSING', message), { cause }),
  handlerRequired: (method: string, type: string) =>
    coded('XYP_ERR_HANDLER_REQUIRED', `argument handler must be a function (${method}: ${type})`, TypeError),
}
