// Sessions on XEMS: `req.session` read and written, saved before the response ends;
// `res.xLink(data)` starts a session, `res.xUnlink()` ends it. The token travels in an HttpOnly
// cookie; a request header is accepted only when `headerName` is set (API clients), because a
// token that scripts can read and send defeats HttpOnly.
import type { IncomingHttpHeaders } from 'node:http'
import cookie from 'cookie'
import type { NextFunction } from '../types'
import type { XemsStore, XemsValue } from './store'

/** What the middleware uses of a request (the engine's or Node's). */
export interface SessionRequest {
  headers: IncomingHttpHeaders
  session?: unknown
  /** Express's `req.secure` (honours `trust proxy`); decides `Secure` on the cookie. */
  secure?: boolean
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

export interface XemsSessionCookieOptions extends Omit<cookie.CookieSerializeOptions, 'secure' | 'httpOnly' | 'encode'> {
  /** `'auto'` (default): `Secure` when the request is secure (`req.secure`, which honours
   *  `trust proxy`), like express-session's `secure: 'auto'`. `true`: always; `false`: never. */
  secure?: boolean | 'auto'
  /** Always true: the session token is a credential scripts must not read. */
  httpOnly?: true
}

export interface XemsSessionOptions {
  store: XemsStore
  cookieName?: string
  /** Opt-in: also accept the token from this request header and send it back in it, for API
   *  clients that keep no cookies (e.g. 'x-xypriss-token'). Off by default: a token in a header
   *  is readable by scripts, which an HttpOnly cookie is not. */
  headerName?: string
  sandbox?: string
  /** Session lifetime in ms (also the cookie's Max-Age). */
  ttl?: number
  /** Move each session to a fresh token on every request that resolves it. */
  autoRotation?: boolean
  /** How long a rotated-away token keeps resolving, in ms (concurrent requests). */
  gracePeriod?: number
  cookie?: XemsSessionCookieOptions
}

export function session(options: XemsSessionOptions) {
  if (!options?.store) throw new TypeError('xems.session needs { store }')
  const store = options.store
  const cookieName = options.cookieName ?? 'xems_token'
  const headerName = options.headerName === undefined ? undefined : String(options.headerName).toLowerCase()
  if (headerName === '') throw new TypeError('xems.session: headerName must be a header name')
  const sandbox = options.sandbox ?? 'sessions'
  const ttl = options.ttl
  const { secure = 'auto', httpOnly, ...cookieRest } = options.cookie ?? {}
  if ((httpOnly as unknown) === false) {
    throw new TypeError('xems.session: the session cookie is always HttpOnly (use headerName for clients without cookies)')
  }
  if (secure !== 'auto' && typeof secure !== 'boolean') {
    throw new TypeError("xems.session: cookie.secure must be true, false or 'auto'")
  }
  const cookieOptions: cookie.CookieSerializeOptions = {
    sameSite: 'lax',
    path: '/',
    ...(ttl ? { maxAge: Math.floor(ttl / 1000) } : {}),
    ...cookieRest,
    httpOnly: true,
  }

  function sendToken(req: SessionRequest, res: SessionResponse, token: string | null) {
    const attributes = { ...cookieOptions, secure: secure === 'auto' ? req.secure === true : secure }
    const value = token === null
      ? cookie.serialize(cookieName, '', { ...attributes, maxAge: undefined, expires: new Date(0) })
      : cookie.serialize(cookieName, token, attributes)
    const existing = res.getHeader('Set-Cookie')
    const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]
    res.setHeader('Set-Cookie', [...list.filter((c: string) => !c.startsWith(cookieName + '=')), value])
    if (headerName !== undefined && token !== null) res.setHeader(headerName, token)
  }

  return function xemsSession(req: SessionRequest, res: SessionResponse, next: NextFunction) {
    const fromCookie = req.headers.cookie ? cookie.parse(req.headers.cookie)[cookieName] : undefined
    const header = headerName === undefined ? undefined : req.headers[headerName]
    const presented: string | undefined = fromCookie || (typeof header === 'string' && header !== '' ? header : undefined)
    let token: string | undefined
    let snapshot = ''
    const pending: Promise<unknown>[] = []

    res.xLink = (data: XemsValue = {}) => {
      const linking = store.createSession(data, { sandbox, ttl }).then((created) => {
        token = created
        req.session = data
        snapshot = JSON.stringify(data)
        if (!res.headersSent) sendToken(req, res, created)
        return created
      })
      pending.push(linking)
      return linking
    }
    res.xUnlink = () => {
      const ending = token ? store.destroySession(token, { sandbox }) : Promise.resolve(false)
      token = undefined
      req.session = undefined
      if (!res.headersSent) sendToken(req, res, null)
      pending.push(ending)
      return ending
    }

    // Save before the response completes, as express-session does, so the next request sees it.
    // The store saves into the session the token names now: through a rotated-away token within
    // its grace period that is its successor; after it (or once destroyed), nothing, so a slow
    // request can never bring a session back.
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
          if (found.token !== presented) sendToken(req, res, found.token)
        } else {
          req.session = undefined
        }
        next()
      }, next)
  }
}
