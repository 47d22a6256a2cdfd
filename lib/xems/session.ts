// Sessions on XEMS: `req.session` read and written, saved before the response ends;
// `res.xLink(data)` starts a session, `res.xUnlink()` ends it. The token travels in a cookie
// (and is accepted from a header, for API clients).
import type { IncomingHttpHeaders } from 'node:http'
import cookie from 'cookie'
import type { NextFunction } from '../types'
import type { XemsStore, XemsValue } from './store'

/** What the middleware uses of a request (the engine's or Node's). */
export interface SessionRequest {
  headers: IncomingHttpHeaders
  session?: unknown
}

/** What the middleware uses of a response, and the two methods it adds. */
export interface SessionResponse {
  headersSent: boolean
  statusCode: number
  getHeader(name: string): unknown
  setHeader(name: string, value: string | string[]): unknown
  end(...args: unknown[]): unknown
  xLink?: (data?: XemsValue) => Promise<string>
  xUnlink?: () => Promise<boolean>
}

export interface XemsSessionOptions {
  store: XemsStore
  cookieName?: string
  headerName?: string
  sandbox?: string
  /** Session lifetime in ms (also the cookie's Max-Age). */
  ttl?: number
  /** Move each session to a fresh token on every request that resolves it. */
  autoRotation?: boolean
  /** How long a rotated-away token keeps resolving, in ms (concurrent requests). */
  gracePeriod?: number
  cookie?: cookie.CookieSerializeOptions
}

export function session(options: XemsSessionOptions) {
  if (!options?.store) throw new TypeError('xems.session needs { store }')
  const store = options.store
  const cookieName = options.cookieName ?? 'xems_token'
  const headerName = (options.headerName ?? 'x-xypriss-token').toLowerCase()
  const sandbox = options.sandbox ?? 'sessions'
  const ttl = options.ttl
  const cookieOptions: cookie.CookieSerializeOptions = {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    ...(ttl ? { maxAge: Math.floor(ttl / 1000) } : {}),
    ...options.cookie,
  }

  function sendToken(res: SessionResponse, token: string | null) {
    const value = token === null
      ? cookie.serialize(cookieName, '', { ...cookieOptions, maxAge: undefined, expires: new Date(0) })
      : cookie.serialize(cookieName, token, cookieOptions)
    const existing = res.getHeader('Set-Cookie')
    const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]
    res.setHeader('Set-Cookie', [...list.filter((c: string) => !c.startsWith(cookieName + '=')), value])
    if (token !== null) res.setHeader(headerName, token)
  }

  return function xemsSession(req: SessionRequest, res: SessionResponse, next: NextFunction) {
    const header = req.headers[headerName]
    const fromCookie = req.headers.cookie ? cookie.parse(req.headers.cookie)[cookieName] : undefined
    const presented: string | undefined = fromCookie || (typeof header === 'string' ? header : undefined)
    let token: string | undefined
    let snapshot = ''
    const pending: Promise<unknown>[] = []

    res.xLink = (data: XemsValue = {}) => {
      const linking = store.createSession(data, { sandbox, ttl }).then((created) => {
        token = created
        req.session = data
        snapshot = JSON.stringify(data)
        if (!res.headersSent) sendToken(res, created)
        return created
      })
      pending.push(linking)
      return linking
    }
    res.xUnlink = () => {
      const ending = token ? store.destroySession(token, { sandbox }) : Promise.resolve(false)
      token = undefined
      req.session = undefined
      if (!res.headersSent) sendToken(res, null)
      pending.push(ending)
      return ending
    }

    // Save before the response completes, as express-session does, so the next request sees it.
    const end = res.end
    res.end = function (this: SessionResponse, ...args: unknown[]) {
      res.end = end
      if (token && req.session !== undefined && JSON.stringify(req.session) !== snapshot) {
        pending.push(store.saveSession(token, req.session, { sandbox, ttl }))
      }
      if (pending.length === 0) return end.apply(this, args)
      Promise.all(pending).then(
        () => end.apply(this, args),
        (err) => {
          res.statusCode = 500
          end.call(this, String(err?.code ?? 'session store error'))
        },
      )
      return this
    }

    if (!presented) {
      req.session = undefined
      next()
      return
    }
    store
      .resolveSession(presented, { sandbox, rotate: options.autoRotation, gracePeriod: options.gracePeriod })
      .then((found) => {
        if (found) {
          token = found.token
          req.session = found.data
          snapshot = JSON.stringify(found.data)
          if (found.token !== presented) sendToken(res, found.token)
        } else {
          req.session = undefined
        }
        next()
      }, next)
  }
}
