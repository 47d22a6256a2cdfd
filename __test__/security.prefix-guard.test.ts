// A guard on a path prefix (app.use('/private', deny)) in front of routes and static files: no
// spelling of a path below the prefix reaches a route or a file. Express on node:http serves
// some of these spellings (send decodes and normalises what the guard matched as sent); the
// engine serves none.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, xypriss, type Running } from './helpers'
import { RawClient } from './raw-client'

const SECRET = 'SECRET-'

function guardedApp(framework: any, root: string) {
  const app = framework()
  const deny = (_req: any, res: any) => res.status(401).send('denied')
  app.use('/private', deny)
  app.get('/private/data', (_req: any, res: any) => res.send(SECRET + 'route'))
  app.get('/private/:file', (_req: any, res: any) => res.send(SECRET + 'param-route'))
  app.use('/files/private', deny)
  app.use('/files', framework.static(root))
  app.use(framework.static(root))
  return app
}

/** splitmix32, seeded so that a failing spelling replays. */
function generator(seed: number) {
  let state = seed >>> 0
  return <T>(items: readonly T[]): T => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return items[((z ^ (z >>> 16)) >>> 0) % items.length]
  }
}

const BEFORE = ['', '', '', '/x/..', '/.', '/x/%2e%2e', '/x/%2E%2E', '/%2e', '/x/.%2e', '/.//x/..', '/x/../x/..']
const LEAD = ['/', '/', '//', '/\\', '///', '/%2f', '/%5c']
const PREFIX = ['', '', '/files', '/FILES', '//a@b', '//a@b/files', 'http://h', 'HTTP://u@h:80', 'http://h/files', 'http://a@b']
const NAME = ['private', 'private', 'PRIVATE', 'Private', '%70rivate', 'priv%61te', '%50RIVATE', 'privat%65']
const SEPARATOR = ['/', '/', '\\', '//', '%2f', '%2F', '%5c', '%5C', '/./', '/x/../', '/x/%2e%2e/', '/%2e/', '/;/', ';/', '/.%2e/private/', '\\.\\']
const FILE = ['key.txt', 'key.txt', 'data', 'anything', 'key%2etxt', 'key.tx%74']
const AFTER = ['', '', '#', '#x', '?q=1', '?q#x', ';x', '#/../public.txt', '?', '#?']

function spelling(pick: ReturnType<typeof generator>): string {
  return pick(PREFIX) + pick(BEFORE) + pick(LEAD) + pick(NAME) + pick(SEPARATOR) + pick(FILE) + pick(AFTER)
}

// The spellings found on the engine and on Express before the engine had one reading.
const NAMED = [
  '/private\\key.txt#',
  '//a@b/private/key.txt#',
  '/private%2fkey.txt',
  '/private%2Fkey.txt',
  '/private%5ckey.txt',
  '/x/../private/key.txt',
  '/./private/key.txt',
  '//private/key.txt',
  '/x/%2e%2e/private/key.txt',
  '/%70rivate/key.txt',
  "/it's/../private/key.txt#",
  "http://a'/../private/key.txt",
  '/PRIVATE/key.txt',
  '/private;/key.txt',
  'http://h/private/key.txt',
  '/files//private/key.txt',
  '/files/private%2fkey.txt',
]

describe('a guarded prefix', () => {
  let root: string
  let engine: Running
  let reference: Running
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-guard-'))
    // The secret below the guard, and the same file where a spelling could land once decoded or
    // normalised: a case variant, the directory a `//a@b` prefix names.
    for (const dir of ['private', 'PRIVATE', 'Private', 'a@b/private', 'x']) fs.mkdirSync(path.join(root, dir), { recursive: true })
    for (const file of ['private/key.txt', 'private/data', 'PRIVATE/key.txt', 'Private/key.txt', 'a@b/private/key.txt']) {
      fs.writeFileSync(path.join(root, file), SECRET + 'file')
    }
    fs.writeFileSync(path.join(root, 'public.txt'), 'public')
    engine = await listen(guardedApp(xypriss, root))
    reference = await listen(guardedApp(express, root))
  })
  afterAll(async () => {
    await engine?.close()
    await reference?.close()
    fs.rmSync(root, { recursive: true, force: true })
  })

  it('is not vacuous: the plain path is denied, a public file is served', async () => {
    const client = new RawClient(engine.port)
    try {
      expect((await client.get('/private/key.txt')).status).toBe(401)
      expect((await client.get('/files/private/key.txt')).status).toBe(401)
      const open = await client.get('/public.txt')
      expect([open.status, open.body.toString()]).toEqual([200, 'public'])
      const mounted = await client.get('/files/public.txt')
      expect([mounted.status, mounted.body.toString()]).toEqual([200, 'public'])
    } finally {
      client.close()
    }
  })

  it('no spelling below it reaches a route or a static file (named spellings and 2000 seeded ones)', async () => {
    const pick = generator(0x6a4d)
    const spellings = [...NAMED]
    for (let i = 0; i < 2000; i++) spellings.push(spelling(pick))
    const ours = new RawClient(engine.port)
    const theirs = new RawClient(reference.port)
    const leaks: string[] = []
    const expressLeaks: string[] = []
    const statuses: Record<number, number> = {}
    try {
      for (const target of spellings) {
        const [a, b] = await Promise.all([ours.get(target), theirs.get(target)])
        statuses[a.status] = (statuses[a.status] ?? 0) + 1
        if (a.body.toString('latin1').includes(SECRET)) leaks.push(`${JSON.stringify(target)} -> ${a.status} ${a.body}`)
        if (b.body.toString('latin1').includes(SECRET)) expressLeaks.push(target)
      }
    } finally {
      ours.close()
      theirs.close()
    }
    expect(leaks).toEqual([])
    // The generator reaches what Express lets through (send decodes and normalises: about a
    // third of the spellings), and the guard itself answers some.
    expect(expressLeaks.length).toBeGreaterThan(spellings.length / 10)
    expect(statuses[401]).toBeGreaterThan(20)
  })
})

// Each finding, named after its cause.
describe('regressions', () => {
  let root: string
  let engine: Running
  let reference: Running
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-guard-'))
    for (const dir of ['private', 'a@b/private', "it's"]) fs.mkdirSync(path.join(root, dir), { recursive: true })
    for (const file of ['private/key.txt', 'a@b/private/key.txt', "it's/key.txt"]) fs.writeFileSync(path.join(root, file), SECRET + 'file')
    const build = (framework: any) => {
      const app = framework()
      const deny = (_req: any, res: any) => res.status(401).send('denied')
      app.use('/private', deny)
      app.use("/it's", deny)
      app.use(framework.static(root))
      return app
    }
    engine = await listen(build(xypriss))
    reference = await listen(build(express))
  })
  afterAll(async () => {
    await engine?.close()
    await reference?.close()
    fs.rmSync(root, { recursive: true, force: true })
  })

  async function both(target: string) {
    const ours = new RawClient(engine.port)
    const theirs = new RawClient(reference.port)
    try {
      const [a, b] = await Promise.all([ours.get(target), theirs.get(target)])
      return { ours: { status: a.status, body: a.body.toString('latin1') }, express: { status: b.status, body: b.body.toString('latin1') } }
    } finally {
      ours.close()
      theirs.close()
    }
  }

  it('url.parse made \\ a / for JS only: /private\\key.txt# reached the file behind the guard', async () => {
    const r = await both('/private\\key.txt#')
    expect(r.express.status).toBe(401)
    expect(r.ours.status).toBe(404)
    expect(r.ours.body).toContain('Cannot GET /private\\key.txt')
  })

  it('url.parse took //a@b as an authority for JS only: //a@b/private/key.txt# reached the file behind the guard', async () => {
    const r = await both('//a@b/private/key.txt#')
    expect(r.express.status).toBe(401)
    expect(r.ours.status).toBe(404)
    expect(r.ours.body).toContain('Cannot GET //a@b/private/key.txt')
  })

  it("url.parse escapes ' in a target with a fragment: Express skips a guard on /it's, the engine does not", async () => {
    const r = await both("/it's/key.txt#")
    expect(r.express.body).toContain(SECRET)
    expect(r.ours).toEqual({ status: 401, body: 'denied' })
  })

  it('send normalises dot segments: /x/../private/key.txt and /./private/key.txt reach no file', async () => {
    for (const target of ['/x/../private/key.txt', '/./private/key.txt', '/x/%2e%2e/private/key.txt', '/x/.%2E/private/key.txt']) {
      const r = await both(target)
      expect([target, r.express.body]).toEqual([target, SECRET + 'file'])
      expect([target, r.ours.status]).toEqual([target, 404])
    }
  })

  it('send normalises empty segments: //private/key.txt reaches no file', async () => {
    const r = await both('//private/key.txt')
    expect(r.express.body).toBe(SECRET + 'file')
    expect(r.ours.status).toBe(404)
  })

  it('send decodes escaped letters: /%70rivate/key.txt reaches no file', async () => {
    const r = await both('/%70rivate/key.txt')
    expect(r.express.body).toBe(SECRET + 'file')
    expect(r.ours.status).toBe(404)
  })

  it("absolute-form with an authority url.parse cuts short: http://a'/../private/key.txt reaches no file", async () => {
    const r = await both("http://a'/../private/key.txt")
    expect(r.express.body).toBe(SECRET + 'file')
    expect(r.ours.status).toBe(404)
  })
})
