// The HTTP methods routers expose as functions (`router.get`, `app.propfind`...), as Express does.
import { METHODS } from 'node:http'

export const methods: string[] = METHODS.map((m) => m.toLowerCase())
