// The HTTP methods routers expose as functions (`router.get`, `app.propfind`...), as Express does.
import { METHODS } from 'node:http'

export const methods: string[] = METHODS.map((m) => m.toLowerCase())

const lowerCase: Record<string, string> = Object.create(null)
for (const m of METHODS) lowerCase[m] = m.toLowerCase()

/** `method.toLowerCase()`, looked up for Node's methods (the router asks on every dispatch). */
export function lowerMethod(method: string): string {
  return lowerCase[method] ?? method.toLowerCase()
}
