import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const xypriss = require('./index.cjs')

export default xypriss
export const { Router, Route, json, raw, text, urlencoded, static: serveStatic, createServer, createHttpServer, HttpServer, inFlight, engineStats, xems } = xypriss
