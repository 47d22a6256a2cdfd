import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { xypriss } from './helpers'

const { xems } = xypriss
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xems-js-'))
const secret = randomBytes(32).toString('hex')
const hw = (n: number) => Buffer.alloc(32, n)
let counter = 0
const fresh = () => path.join(dir, `s${counter++}.xem`)

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('xems store from JS', () => {
  it('round-trips strings, Buffers and JSON, and survives a reopen', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1) })
    await store.set('users', 'a', 'text')
    await store.set('users', 'b', Buffer.from([0, 1, 255]))
    await store.set('users', 'c', { deep: [1, { x: 'é' }] })
    await store.close()
    const again = await xems.open({ path: file, secret, hardwareId: hw(1) })
    expect(await again.get('users', 'a')).toBe('text')
    expect(await again.get('users', 'b')).toEqual(Buffer.from([0, 1, 255]))
    expect(await again.get('users', 'c')).toEqual({ deep: [1, { x: 'é' }] })
    expect(await again.get('users', 'missing')).toBeUndefined()
    expect(await again.del('users', 'a')).toBe(true)
    expect(await again.get('users', 'a')).toBeUndefined()
    await again.close()
  })

  it('never returns an expired entry', async () => {
    const store = await xems.open({ path: fresh(), secret, hardwareId: hw(1) })
    await store.set('t', 'short', 'v', { ttl: 30 })
    expect(await store.get('t', 'short')).toBe('v')
    await new Promise((r) => setTimeout(r, 60))
    expect(await store.get('t', 'short')).toBeUndefined()
    await store.close()
  })

  it('refuses a wrong secret and other hardware with XYP_ERR_XEMS_KEY, leaving the file untouched', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1) })
    await store.set('s', 'k', 'v')
    await store.close()
    const before = fs.readFileSync(file)
    await expect(xems.open({ path: file, secret: randomBytes(32).toString('hex'), hardwareId: hw(1) })).rejects.toMatchObject({ code: 'XYP_ERR_XEMS_KEY' })
    await expect(xems.open({ path: file, secret, hardwareId: hw(2) })).rejects.toMatchObject({ code: 'XYP_ERR_XEMS_KEY' })
    expect(fs.readFileSync(file).equals(before)).toBe(true)
  })

  it('re-binds to new hardware with the recovery key shown once at creation', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1), recoveryKey: true })
    const recovery = store.recoveryKey
    expect(typeof recovery).toBe('string')
    await store.set('s', 'k', 'kept')
    await store.close()
    const moved = await xems.open({ path: file, secret, hardwareId: hw(7), recoveryKey: recovery })
    expect(await moved.get('s', 'k')).toBe('kept')
    expect(moved.recoveryKey).toBeUndefined()
    await moved.close()
  })

  it('rotates sessions with a grace period', async () => {
    const store = await xems.open({ path: fresh(), secret, hardwareId: hw(1) })
    const token = await store.createSession({ user: 'ada' }, { ttl: 60_000 })
    const rotated = await store.resolveSession(token, { rotate: true, gracePeriod: 80 })
    expect(rotated!.token).not.toBe(token)
    expect(rotated!.data).toEqual({ user: 'ada' })
    expect((await store.resolveSession(token))!.data).toEqual({ user: 'ada' })
    await new Promise((r) => setTimeout(r, 150))
    expect(await store.resolveSession(token)).toBeNull()
    expect((await store.resolveSession(rotated!.token))!.data).toEqual({ user: 'ada' })
    expect(await store.destroySession(rotated!.token)).toBe(true)
    expect(await store.resolveSession(rotated!.token)).toBeNull()
    await store.close()
  })

  it('shares fsyncs between 64 concurrent writers and keeps every record through compaction', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1) })
    await Promise.all(Array.from({ length: 64 }, (_, i) => store.set('w', `k${i}`, `v${i}`)))
    const stats = store.stats()
    expect(stats.writes).toBe(64)
    expect(stats.fsyncs).toBeLessThan(64)
    for (let i = 0; i < 32; i++) await store.del('w', `k${i}`)
    await store.compact()
    for (let i = 32; i < 64; i++) expect(await store.get('w', `k${i}`)).toBe(`v${i}`)
    expect(await store.get('w', 'k0')).toBeUndefined()
    await store.close()
  })

  it('gives a second process XYP_ERR_XEMS_LOCKED', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1) })
    const script = `
      const { xems } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.cjs'))})
      xems.open({ path: ${JSON.stringify(file)}, secret: ${JSON.stringify(secret)}, hardwareId: Buffer.alloc(32, 1) })
        .then(() => console.log('opened'), (e) => console.log(e.code))`
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 })
    expect(child.stdout.trim()).toBe('XYP_ERR_XEMS_LOCKED')
    await store.close()
  })

  it('does not keep the process alive once writes are done', () => {
    const file = fresh()
    const script = `
      const { xems } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.cjs'))})
      xems.open({ path: ${JSON.stringify(file)}, secret: ${JSON.stringify(secret)}, hardwareId: Buffer.alloc(32, 1) })
        .then(async (s) => { await s.set('a', 'b', 'c'); console.log('written') })`
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 })
    expect(child.status).toBe(0)
    expect(child.stdout).toBe('written\n')
  })

  it('never brings a rotated-away token back through saveSession', async () => {
    const store = await xems.open({ path: fresh(), secret, hardwareId: hw(1) })
    const old = await store.createSession({ user: 'ada' }, { ttl: 60_000 })
    const moved = (await store.resolveSession(old, { rotate: true, gracePeriod: 1_000 }))!.token
    // Within the grace: saved into the session the old token names now.
    expect(await store.saveSession(old, { user: 'ada', cart: 1 })).toBe(true)
    expect((await store.resolveSession(moved))!.data).toEqual({ user: 'ada', cart: 1 })
    await new Promise((r) => setTimeout(r, 1_300))
    // After it: nothing is saved, and the old token stays dead.
    expect(await store.saveSession(old, { user: 'mallory' }, { ttl: 60_000 })).toBe(false)
    expect(await store.resolveSession(old)).toBeNull()
    expect((await store.resolveSession(moved))!.data).toEqual({ user: 'ada', cart: 1 })
    expect(store.stats().liveRecords).toBe(1)
    // A destroyed session is not revived either.
    expect(await store.destroySession(moved)).toBe(true)
    expect(await store.saveSession(moved, { user: 'ada' })).toBe(false)
    expect(await store.resolveSession(moved)).toBeNull()
    await store.close()
  })

  it('creates the store readable and writable by its owner only', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1) })
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    await store.set('s', 'k', 'v')
    await store.compact()
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    await store.close()
  })

  it('refuses a store that other users can write with XYP_ERR_XEMS_PERMISSIONS', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1) })
    await store.close()
    fs.chmodSync(file, 0o666)
    await expect(xems.open({ path: file, secret, hardwareId: hw(1) })).rejects.toMatchObject({
      code: 'XYP_ERR_XEMS_PERMISSIONS',
      message: expect.stringMatching(/writable by its group and all users.*chmod 600/),
    })
    fs.chmodSync(file, 0o600)
    await (await xems.open({ path: file, secret, hardwareId: hw(1) })).close()
  })

  it('compacts by itself once most of a big enough file is dead', async () => {
    const file = fresh()
    const store = await xems.open({ path: file, secret, hardwareId: hw(1), autoCompact: { minFileSize: 16_384, deadPercent: 50 } })
    const overwrite = async (s: any) => {
      // Groups of concurrent writes share fsyncs: a quicker way to a big, mostly dead file.
      for (let i = 0; i < 300; i += 30) await Promise.all(Array.from({ length: 30 }, (_, j) => s.set('hot', 'counter', 'x'.repeat(200) + (i + j))))
    }
    await overwrite(store)
    const stats = store.stats()
    expect(stats.autoCompactions).toBeGreaterThan(0)
    expect(stats.generation).toBe(stats.autoCompactions)
    expect(stats.fileSize).toBeLessThan(40_000)
    expect(await store.get('hot', 'counter')).toBe('x'.repeat(200) + 299)
    await store.close()

    const manual = await xems.open({ path: fresh(), secret, hardwareId: hw(1), autoCompact: false })
    await overwrite(manual)
    expect(manual.stats()).toMatchObject({ autoCompactions: 0, generation: 0 })
    await manual.close()
  })
})
