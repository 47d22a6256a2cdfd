import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const xypriss = require('./index.cjs')

export default xypriss
// The names `import { ... } from 'express'` gives (Node reads them off Express's CommonJS exports), plus xypriss's own.
export const {
  Router,
  Route,
  application,
  request,
  response,
  json,
  raw,
  text,
  urlencoded,
  static: serveStatic,
  createServer,
  createHttpServer,
  HttpServer,
  inFlight,
  engineStats,
  xems,
  helmet,
  cors,
  rateLimit,
} = xypriss
export { serveStatic as static }
