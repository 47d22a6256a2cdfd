// 'case sensitive routing' and 'strict routing' reach the router (and the engine's mirror of it),
// on express@5 and on xypriss.
import { describe, expect, it } from 'vitest'
import { onBoth, request } from './helpers'

type Case = [path: string, status: number]

function differential(name: string, build: (framework: any) => any, cases: Case[]) {
  describe(name, () => {
    const both = onBoth(build)
    for (const [path, status] of cases) {
      it(`GET ${path} -> ${status}`, async () => {
        const [a, b] = await Promise.all([request(both.express.port, 'GET', path), request(both.xypriss.port, 'GET', path)])
        expect(a.status).toBe(status)
        expect(b.status).toBe(a.status)
        expect(b.body.toString()).toBe(a.body.toString())
      })
    }
  })
}

const routes = (app: any) => {
  app.get('/Users', (req: any, res: any) => res.send('users'))
  app.get('/dir/', (req: any, res: any) => res.send('dir'))
  return app
}

describe('app router settings', () => {
  differential('defaults: case-insensitive, trailing slash optional', (fw) => routes(fw()), [
    ['/Users', 200],
    ['/users', 200],
    ['/users/', 200],
    ['/dir', 200],
    ['/dir/', 200],
  ])

  differential('case sensitive routing', (fw) => routes(fw().enable('case sensitive routing')), [
    ['/Users', 200],
    ['/users', 404],
    ['/USERS/', 404],
  ])

  differential('strict routing', (fw) => routes(fw().enable('strict routing')), [
    ['/Users', 200],
    ['/users/', 404],
    ['/dir', 404],
    ['/dir/', 200],
  ])

  // The router is made with the settings of the moment it is first used, as in Express:
  // enabling them afterwards changes nothing, here or in the engine's route mirror.
  differential('enabled after the first route', (fw) => {
    const app = routes(fw())
    app.enable('case sensitive routing')
    app.enable('strict routing')
    return app
  }, [
    ['/users', 200],
    ['/dir', 200],
  ])

  differential('in a sub-app, from the sub-app settings', (fw) => {
    const app = fw()
    const sub = fw().enable('case sensitive routing')
    routes(sub)
    app.use('/sub', sub)
    return app
  }, [
    ['/sub/Users', 200],
    ['/sub/users', 404],
    ['/SUB/Users', 200],
  ])
})
