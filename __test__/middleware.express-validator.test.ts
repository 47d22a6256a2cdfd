// express-validator on express@5 and on xypriss: validation errors as JSON, sanitized data on success.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, request, xypriss, type Running } from './helpers'

const require = createRequire(import.meta.url)
const { body, query, param, validationResult, matchedData } = require('express-validator')

function build(framework: any) {
  const app = framework()
  app.use(framework.json())
  app.post(
    '/users/:org',
    param('org').isAlpha(),
    query('dry').optional().isBoolean().toBoolean(),
    body('email').isEmail().normalizeEmail(),
    body('age').isInt({ min: 18 }).toInt(),
    (req: any, res: any) => {
      const result = validationResult(req)
      if (!result.isEmpty()) return res.status(422).json({ errors: result.array() })
      res.json(matchedData(req))
    },
  )
  return app
}

const json = { 'content-type': 'application/json' }

for (const [name, framework] of [['express', express], ['xypriss', xypriss]] as Array<[string, any]>) {
  describe(`express-validator on ${name}`, () => {
    let server: Running
    beforeAll(async () => {
      server = await listen(build(framework))
    })
    afterAll(() => server.close())

    it('reports each invalid field with its location', async () => {
      const r = await request(server.port, 'POST', '/users/acme1?dry=maybe', { headers: json, body: JSON.stringify({ email: 'nope', age: 12 }) })
      expect(r.status).toBe(422)
      expect(JSON.parse(r.body.toString())).toEqual({
        errors: [
          { type: 'field', value: 'acme1', msg: 'Invalid value', path: 'org', location: 'params' },
          { type: 'field', value: 'maybe', msg: 'Invalid value', path: 'dry', location: 'query' },
          { type: 'field', value: 'nope', msg: 'Invalid value', path: 'email', location: 'body' },
          { type: 'field', value: 12, msg: 'Invalid value', path: 'age', location: 'body' },
        ],
      })
    })

    it('returns the sanitized data when valid', async () => {
      const r = await request(server.port, 'POST', '/users/acme?dry=true', { headers: json, body: JSON.stringify({ email: 'Bob@Example.COM', age: '30' }) })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body.toString())).toEqual({ org: 'acme', dry: true, email: 'bob@example.com', age: 30 })
    })
  })
}
