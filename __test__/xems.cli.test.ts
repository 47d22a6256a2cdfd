import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { xypriss } from './helpers'

const cli = path.join(__dirname, '..', 'bin', 'xypriss.js')
const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 })

describe('npx xypriss xems', () => {
  it('inspects, compacts and re-binds a store', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xems-cli-'))
    const file = path.join(dir, 'cli.xem')
    const secret = randomBytes(32).toString('hex')
    const store = await xypriss.xems.open({ path: file, secret, hardwareBound: false, recoveryKey: true })
    for (let i = 0; i < 20; i++) await store.set('s', `k${i}`, 'x'.repeat(100))
    for (let i = 0; i < 15; i++) await store.del('s', `k${i}`)
    const recovery = store.recoveryKey
    await store.close()

    const inspected = run(['xems', 'inspect', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: secret })
    expect(inspected.status).toBe(0)
    expect(JSON.parse(inspected.stdout).liveRecords).toBe(5)

    const sizeBefore = fs.statSync(file).size
    const compacted = run(['xems', 'compact', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: secret })
    expect(compacted.status).toBe(0)
    expect(fs.statSync(file).size).toBeLessThan(sizeBefore)

    const wrong = run(['xems', 'inspect', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: randomBytes(32).toString('hex') })
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/XYP_ERR_XEMS_KEY/)

    const newSecret = randomBytes(32).toString('hex')
    const rebound = run(['xems', 'rebind', '--path', file, '--no-hardware-bound', '--recovery-key', recovery], { XEMS_SECRET: newSecret })
    expect(rebound.status, rebound.stderr).toBe(0)
    const after = run(['xems', 'inspect', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: newSecret })
    expect(JSON.parse(after.stdout).liveRecords).toBe(5)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('explains its usage', () => {
    const result = run(['xems', 'explode'], {})
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/usage: xypriss xems/)
  })
})
