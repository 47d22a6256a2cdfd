// express.static: serve-static byte for byte, except that no file is served for a path in
// another spelling than its plain one (an encoded separator above all), which is answered as a
// file that does not exist: next(), or a 404 error with `fallthrough: false`.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { express, listen, xypriss, type Running } from './helpers'
import { RawClient, type RawReply } from './raw-client'

const require = createRequire(import.meta.url)
const serveStatic = require('serve-static')
const native = require('../binding/index.js')

let root: string
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xyp-static-'))
  for (const dir of ['private', 'dir', 'dir/sub', '.hidden-dir', 'caf\u00e9']) fs.mkdirSync(path.join(root, dir), { recursive: true })
  const files: Record<string, string> = {
    'private/key.txt': 'SECRET',
    'a.txt': 'a'.repeat(300),
    'dir/index.html': '<h1>dir</h1>',
    'dir/b.json': '{"b":1}',
    'dir/sub/c.css': 'body{}',
    '.env': 'HIDDEN=1',
    '.hidden-dir/x.txt': 'hidden',
    'sp ace.txt': 'space',
    'caf\u00e9/menu.txt': 'menu',
    'logo@2x.png': 'png',
    'a+b.txt': 'plus',
    "it's.txt": 'quote',
    'index.html': '<h1>root</h1>',
  }
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(root, file), content)
})
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

/** The static middleware under test, then what tells a fall-through from an error. */
function app(framework: any, middleware: any, guard = false) {
  const a = framework()
  if (guard) a.use('/private', (_req: any, res: any) => res.status(401).send('denied'))
  a.use(middleware)
  a.use('/mnt', middleware)
  a.use((_req: any, res: any) => res.status(418).send('fell through'))
  a.use((err: any, _req: any, res: any, _next: any) => res.status(err.status ?? 500).send(`error ${err.status}`))
  return a
}

async function exchange(port: number, target: string, method = 'GET', headers = ''): Promise<RawReply> {
  const client = new RawClient(port)
  try {
    return await client.send(Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`, 'latin1'), method === 'HEAD')
  } finally {
    client.close()
  }
}

describe('express.static refuses encoded separators', () => {
  let ours: Running
  let strict: Running
  let reference: Running
  beforeAll(async () => {
    ours = await listen(app(xypriss, xypriss.static(root), true))
    strict = await listen(app(xypriss, xypriss.static(root, { fallthrough: false }), true))
    reference = await listen(app(express, express.static(root), true))
  })
  afterAll(async () => {
    await ours?.close()
    await strict?.close()
    await reference?.close()
  })

  it('send decodes %2f, %5c (any case) into separators: no file below a guard is served for them', async () => {
    for (const target of ['/private%2fkey.txt', '/private%2Fkey.txt', '/mnt/private%2fkey.txt', '/dir%2fb.json', '/dir%5Cb.json', '/dir%5cb.json']) {
      const express = await exchange(reference.port, target)
      const fell = await exchange(ours.port, target)
      const failed = await exchange(strict.port, target)
      // Express serves every one of them (POSIX: %5c decodes to a \ that names no file there).
      if (!/%5c/i.test(target)) expect([target, express.status]).toEqual([target, 200])
      expect([target, fell.status, fell.body.toString()]).toEqual([target, 418, 'fell through'])
      expect([target, failed.status, failed.body.toString()]).toEqual([target, 404, 'error 404'])
    }
  })

  it('the rule is the engine’s, and says why', () => {
    expect(native.staticPathRefusal('/private%2fkey.txt')).toBe('encoded separator')
    expect(native.staticPathRefusal('/a/../b')).toBe('dot segment')
    expect(native.staticPathRefusal('/a.txt')).toBe(null)
  })
})

/** splitmix32, seeded so a failing case replays. */
function generator(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  return { below: (n: number) => next() % n, pick: <T>(items: readonly T[]) => items[next() % items.length] }
}

const SEGMENTS = ['a.txt', 'dir', 'dir/', 'dir/b.json', 'sub', 'c.css', 'index.html', '.env', '.hidden-dir', 'x.txt', 'sp%20ace.txt', 'caf%C3%A9', 'menu.txt', 'logo@2x.png', 'logo%402x.png', 'a+b.txt', 'a%2Bb.txt', "it's.txt", 'it%27s.txt', 'missing', 'private', 'key.txt', '..', '.', '', '%2e', '%2f', '%5c', '\\', '%41.txt', '%zz', '%00', 'a.txt;x']
const EXISTING = ['/a.txt', '/dir/', '/dir', '/dir/b.json', '/dir/sub/c.css', '/.env', '/.hidden-dir/x.txt', '/sp%20ace.txt', '/caf%C3%A9/menu.txt', '/logo@2x.png', '/logo%402x.png', '/a+b.txt', '/a%2Bb.txt', "/it's.txt", '/it%27s.txt', '/index.html', '/', '/dir/b', '/a']
const PREFIXES = ['', '', '', '/mnt']
const SUFFIXES = ['', '', '', '?x=1', '#f', '?a#b']
const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'OPTIONS']
const HEADERS = ['', '', 'Range: bytes=0-9\r\n', 'Range: bytes=500-\r\n', 'If-None-Match: *\r\n', 'If-Modified-Since: Tue, 01 Jan 2999 00:00:00 GMT\r\n']
const OPTIONS: Array<[string, object | undefined]> = [
  ['defaults', undefined],
  ['fallthrough: false', { fallthrough: false }],
  ['redirect: false, index: false', { redirect: false, index: false }],
  ['dotfiles: allow, etag: false, maxAge', { dotfiles: 'allow', etag: false, maxAge: '1d', immutable: true }],
  ['dotfiles: deny, extensions', { dotfiles: 'deny', extensions: ['txt', 'json'], lastModified: false }],
]

/** Status, headers (Date left out) and body, as sent. */
function shown(r: RawReply): string {
  const headers = Object.entries(r.headers).filter(([name]) => name !== 'date')
  return JSON.stringify([r.status, headers, r.body.toString('latin1')])
}

describe('express.static is serve-static for every other request', () => {
  for (const [title, options] of OPTIONS) {
    it(`${title}: 400 seeded requests answered byte for byte as serve-static answers them`, async () => {
      const theirs = await listen(app(xypriss, serveStatic(root, options)))
      const ours = await listen(app(xypriss, xypriss.static(root, options)))
      const g = generator(0x57a71c ^ title.length)
      let refused = 0
      let served = 0
      try {
        for (let i = 0; i < 400; i++) {
          let target = g.pick(PREFIXES)
          if (g.below(2) === 0) target += g.pick(EXISTING)
          else for (let n = 1 + g.below(3); n > 0; n--) target += '/' + g.pick(SEGMENTS)
          target += g.pick(SUFFIXES)
          const method = g.pick(METHODS)
          const headers = g.pick(HEADERS)
          const [a, b] = await Promise.all([exchange(theirs.port, target, method, headers), exchange(ours.port, target, method, headers)])
          // The path the static middleware sees: below /mnt once mounted there.
          const below = target.startsWith('/mnt/') ? target.slice(4) : target
          const pathname = below.split('#')[0].split('?')[0]
          const isRefused = (method === 'GET' || method === 'HEAD') && native.staticPathRefusal(pathname) !== null
          if (isRefused) {
            refused++
            const [status, body] = options && (options as any).fallthrough === false ? [404, 'error 404'] : [418, 'fell through']
            expect([i, target, b.status, b.body.toString()]).toEqual([i, target, status, method === 'HEAD' ? '' : body])
          } else {
            if (a.status === 200 || a.status === 206) served++
            expect([i, method, target, headers, shown(b)]).toEqual([i, method, target, headers, shown(a)])
          }
        }
      } finally {
        await theirs.close()
        await ours.close()
      }
      expect(refused).toBeGreaterThan(20)
      expect(served).toBeGreaterThan(30)
    })
  }
})
