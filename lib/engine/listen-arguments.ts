// server.listen()'s arguments and failures, read and reported as Node's net.Server does.
import { constants as osConstants } from 'node:os'
import { errors } from '../errors'

export interface ListenOptions {
  port?: number | string
  host?: string
  backlog?: number
  exclusive?: boolean
  ipv6Only?: boolean
  path?: string
  signal?: AbortSignal
}

/** Where the engine binds: a Unix socket path, or a host and port. */
export interface ListenAddress {
  path?: string
  host?: string
  port: number
  backlog?: number
}

/** As Node's: `(port, host, backlog, cb)`, `(path, backlog, cb)`, `(options, cb)`. */
export function listenArguments(args: unknown[]): { options: ListenOptions; callback: (() => void) | undefined } {
  const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined
  const [first, second, third] = args
  if (first !== null && typeof first === 'object') {
    // 0 (or none) is no workers, as for app.listen()
    const workers = (first as { workers?: unknown }).workers
    if (workers !== undefined && workers !== 0) throw errors.notSupported('server.listen({ workers }) (app.listen({ workers }) runs an app on worker threads)')
    return { options: first, callback }
  }
  // As Node: a string that is not a port number is a Unix socket path.
  if (typeof first === 'string' && first !== '' && !Number.isInteger(Number(first))) return { options: { path: first, backlog: second as number | undefined }, callback }
  const backlog = typeof second === 'number' ? second : third
  return { options: { port: first as number | string | undefined, host: typeof second === 'string' ? second : undefined, backlog: backlog as number | undefined }, callback }
}

/**
 * Where to bind, the port checked as Node checks it; `shownHost` and `shownPort` are what a
 * failure reports (the address as given).
 */
export function listenAddress(options: ListenOptions): { where: ListenAddress; shownHost: string | undefined; shownPort: number } {
  if (options.path !== undefined) return { where: { path: String(options.path), port: 0, backlog: options.backlog }, shownHost: options.path, shownPort: 0 }
  const port = options.port === undefined || options.port === null || options.port === '' ? 0 : Number(options.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw errors.badPort(options.port)
  }
  return { where: { host: options.host, port, backlog: options.backlog }, shownHost: options.host, shownPort: port }
}

/** A failed listen as Node reports it. */
export type ListenError = Error & { code: string; errno?: number; syscall?: string; address?: string; port?: number }

export function decorateListenError(error: ListenError, host: string | undefined, port: number, path?: string) {
  const code = error.code
  const errno = (osConstants.errno as Record<string, number>)[code]
  const address = path ?? host ?? '::'
  error.message = path === undefined ? `listen ${code}: ${describe(code)} ${address}:${port}` : `listen ${code}: ${describe(code)} ${path}`
  error.errno = errno === undefined ? undefined : -errno
  error.syscall = 'listen'
  error.address = address
  if (path === undefined) error.port = port
}

function describe(code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return 'address already in use'
    case 'EACCES':
      return 'permission denied'
    case 'EADDRNOTAVAIL':
      return 'address not available'
    default:
      return 'listen failed'
  }
}
