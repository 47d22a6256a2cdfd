// app.render on express@5 and on xypriss: the same views, the same results and the same errors.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, xypriss } from './helpers'

let dir: string
let other: string

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-views-'))
  other = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-views2-'))
  fs.writeFileSync(path.join(dir, 'user.ejs'), '<p><%= name %> <%= greeting %></p>')
  fs.mkdirSync(path.join(dir, 'blog'))
  fs.writeFileSync(path.join(dir, 'blog', 'index.ejs'), 'blog index <%= title %>')
  fs.writeFileSync(path.join(other, 'second.ejs'), 'from the second root')
  fs.writeFileSync(path.join(dir, 'page.tpl'), 'tpl page')
  fs.writeFileSync(path.join(dir, 'gone.ejs'), 'cached <%= name %>')
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(other, { recursive: true, force: true })
})

type Outcome = { err?: string; html?: string; thrown?: string }

function render(app: any, name: string, options?: any): Promise<Outcome> {
  return new Promise((resolve) => {
    try {
      const cb = (err: any, html?: string) => resolve(err ? { err: err.message } : { html })
      if (options === undefined) app.render(name, cb)
      else app.render(name, options, cb)
    } catch (e: any) {
      resolve({ thrown: e.message })
    }
  })
}

/** Runs `setup` on a fresh app of each framework, renders, and checks both against `expected`. */
async function both(setup: (app: any) => void, name: string, options: any, expected: Outcome) {
  const results: Outcome[] = []
  for (const framework of [express, xypriss]) {
    const app = framework()
    setup(app)
    results.push(await render(app, name, options))
  }
  expect(results[0]).toEqual(expected)
  expect(results[1]).toEqual(results[0])
}

describe('app.render', () => {
  it('renders with the view engine, app.locals and options', async () => {
    await both(
      (app) => {
        app.set('views', dir)
        app.set('view engine', 'ejs')
        app.locals.greeting = 'hi'
      },
      'user',
      { name: 'tobi' },
      { html: '<p>tobi hi</p>' },
    )
  })

  it('takes the callback as the second argument', async () => {
    await both(
      (app) => {
        app.set('views', dir)
        app.locals.name = 'loki'
        app.locals.greeting = 'yo'
      },
      'user.ejs',
      undefined,
      { html: '<p>loki yo</p>' },
    )
  })

  it('lets options override _locals, which override app.locals', async () => {
    await both(
      (app) => {
        app.set('views', dir)
        app.locals.name = 'app'
        app.locals.greeting = 'app'
      },
      'user.ejs',
      { _locals: { name: 'res', greeting: 'res' }, greeting: 'opts' },
      { html: '<p>res opts</p>' },
    )
  })

  it('falls back to <name>/index.<ext>', async () => {
    await both((app) => app.set('views', dir), 'blog.ejs', { title: 'T' }, { html: 'blog index T' })
  })

  it('looks through an array of view roots', async () => {
    await both((app) => app.set('views', [dir, other]), 'second.ejs', {}, { html: 'from the second root' })
  })

  it('resolves absolute names', async () => {
    await both(() => {}, path.join(dir, 'user.ejs'), { name: 'abs', greeting: '!' }, { html: '<p>abs !</p>' })
  })

  it('reports a missing view in one directory', async () => {
    await both((app) => app.set('views', dir), 'nope.ejs', {}, { err: `Failed to lookup view "nope.ejs" in views directory "${dir}"` })
  })

  it('reports a missing view in several directories', async () => {
    await both((app) => app.set('views', [dir, other, '/x']), 'nope.ejs', {}, {
      err: `Failed to lookup view "nope.ejs" in views directories "${dir}", "${other}" or "/x"`,
    })
  })

  it('throws without an extension or a default engine', async () => {
    await both((app) => app.set('views', dir), 'user', {}, { thrown: 'No default engine was specified and no extension was provided.' })
  })

  it('throws when the extension names a module without __express', async () => {
    await both((app) => app.set('views', dir), 'page.path', {}, { thrown: 'Module "path" does not provide a view engine.' })
  })

  it('uses an engine registered with app.engine', async () => {
    await both(
      (app) => {
        app.set('views', dir)
        app.set('view engine', 'tpl')
        app.engine('tpl', (file: string, opts: any, cb: any) => cb(null, path.basename(file) + ':' + opts.x + ':' + opts.cache))
      },
      'page',
      { x: 1 },
      { html: 'page.tpl:1:false' },
    )
  })

  it('passes an engine error to the callback, thrown or called back', async () => {
    await both(
      (app) => {
        app.set('views', dir)
        app.engine('.tpl', () => {
          throw new Error('engine threw')
        })
      },
      'page.tpl',
      {},
      { err: 'engine threw' },
    )
    await both(
      (app) => {
        app.set('views', dir)
        app.engine('.tpl', (_f: string, _o: any, cb: any) => cb(new Error('engine failed')))
      },
      'page.tpl',
      {},
      { err: 'engine failed' },
    )
  })

  it('calls back asynchronously even for a synchronous engine', async () => {
    for (const framework of [express, xypriss]) {
      const app = framework()
      app.set('views', dir)
      app.engine('tpl', (_f: string, _o: any, cb: any) => cb(null, 'sync'))
      let sync = true
      const seen = new Promise<boolean>((resolve) => app.render('page.tpl', () => resolve(sync)))
      sync = false
      expect(await seen).toBe(false)
    }
  })

  it("caches views with 'view cache' and options.cache", async () => {
    for (const framework of [express, xypriss]) {
      const file = path.join(dir, 'cached.ejs')
      fs.writeFileSync(file, 'cached')
      const app = framework()
      app.set('views', dir)
      app.enable('view cache')
      expect(await render(app, 'cached.ejs', {})).toEqual({ html: 'cached' })
      expect(Object.keys(app.cache)).toEqual(['cached.ejs'])
      fs.rmSync(file)
      // without the cache the lookup fails; with it the cached View (and ejs's own cache) still render
      const second = await render(app, 'cached.ejs', { cache: false })
      expect(second.err).toMatch(/^Failed to lookup view "cached.ejs"/)
      expect(await render(app, 'cached.ejs', {})).toEqual({ html: 'cached' })
    }
  })

  it("uses the 'view' setting as the View class", async () => {
    await both(
      (app) => {
        app.set(
          'view',
          class {
            path: string
            constructor(public name: string, public options: any) {
              this.path = 'custom:' + name
            }
            render(opts: any, cb: any) {
              cb(null, this.path + ':' + opts.v + ':' + String(this.options.root === undefined))
            }
          },
        )
      },
      'anything',
      { v: 2 },
      { html: 'custom:anything:2:false' },
    )
  })
})
