import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { xypriss } from './helpers'

const cli = path.join(__dirname, '..', 'bin', 'xypriss.js')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xems-cli-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function run(args: string[], env: Record<string, string>, input?: string) {
  // No XEMS_* variables from the outer environment leak into a case.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XEMS_')))
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...base, ...env }, input, timeout: 30_000 })
}

let counter = 0
/** A store with 5 live records and a recovery key, closed. */
async function makeStore() {
  const file = path.join(dir, `cli${counter++}.xem`)
  const secret = randomBytes(32).toString('hex')
  const store = await xypriss.xems.open({ path: file, secret, hardwareBound: false, recoveryKey: true })
  for (let i = 0; i < 20; i++) await store.set('s', `k${i}`, 'x'.repeat(100))
  for (let i = 0; i < 15; i++) await store.del('s', `k${i}`)
  const recovery: string = store.recoveryKey
  await store.close()
  return { file, secret, recovery }
}

const inspect = (file: string, secret: string) => run(['xems', 'inspect', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: secret })

describe('npx xypriss xems', () => {
  it('inspects, compacts and re-binds a store (recovery key from the environment)', async () => {
    const { file, secret, recovery } = await makeStore()
    const inspected = inspect(file, secret)
    expect(inspected.status).toBe(0)
    expect(JSON.parse(inspected.stdout).liveRecords).toBe(5)

    const sizeBefore = fs.statSync(file).size
    const compacted = run(['xems', 'compact', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: secret })
    expect(compacted.status).toBe(0)
    expect(fs.statSync(file).size).toBeLessThan(sizeBefore)

    const wrong = inspect(file, randomBytes(32).toString('hex'))
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/XYP_ERR_XEMS_KEY/)

    const newSecret = randomBytes(32).toString('hex')
    const rebound = run(['xems', 'rebind', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: newSecret, XEMS_RECOVERY_KEY: recovery })
    expect(rebound.status, rebound.stderr).toBe(0)
    expect(JSON.parse(inspect(file, newSecret).stdout).liveRecords).toBe(5)
  })

  it('re-binds with the recovery key read from a file', async () => {
    const { file, recovery } = await makeStore()
    const keyFile = path.join(dir, `key${counter}`)
    fs.writeFileSync(keyFile, `${recovery}\n`, { mode: 0o600 })
    const newSecret = randomBytes(32).toString('hex')
    const rebound = run(['xems', 'rebind', '--path', file, '--no-hardware-bound', '--recovery-key-file', keyFile], { XEMS_SECRET: newSecret })
    expect(rebound.status, rebound.stderr).toBe(0)
    expect(JSON.parse(inspect(file, newSecret).stdout).liveRecords).toBe(5)
  })

  it('re-binds with the recovery key read from stdin', async () => {
    const { file, recovery } = await makeStore()
    const newSecret = randomBytes(32).toString('hex')
    const rebound = run(['xems', 'rebind', '--path', file, '--no-hardware-bound', '--recovery-key-stdin'], { XEMS_SECRET: newSecret }, `${recovery}\n`)
    expect(rebound.status, rebound.stderr).toBe(0)
    expect(JSON.parse(inspect(file, newSecret).stdout).liveRecords).toBe(5)
  })

  it('refuses a recovery key on the command line, says how to pass it, and leaves the store alone', async () => {
    const { file, recovery } = await makeStore()
    const before = fs.readFileSync(file)
    const newSecret = randomBytes(32).toString('hex')
    for (const args of [
      ['--recovery-key', recovery],
      [`--recovery-key=${recovery}`],
    ]) {
      const refused = run(['xems', 'rebind', '--path', file, '--no-hardware-bound', ...args], { XEMS_SECRET: newSecret })
      expect(refused.status).toBe(2)
      expect(refused.stderr).toMatch(/not taken from the command line/)
      expect(refused.stderr).toMatch(/XEMS_RECOVERY_KEY/)
      expect(refused.stderr).toMatch(/--recovery-key-file FILE/)
      expect(refused.stderr).toMatch(/--recovery-key-stdin/)
      expect(refused.stderr + refused.stdout).not.toContain(recovery)
      expect(refused.stderr + refused.stdout).not.toContain(recovery.replace(/-/g, ''))
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true)
  })

  it('refuses a secret on the command line without echoing it', () => {
    const refused = run(['xems', 'inspect', '--path', 'x.xem', '--secret=hunter2hunter2'], {})
    expect(refused.status).toBe(2)
    expect(refused.stderr).toMatch(/XEMS_SECRET/)
    expect(refused.stderr).not.toContain('hunter2')
  })

  it('asks for the recovery key when rebind has none', async () => {
    const { file } = await makeStore()
    const result = run(['xems', 'rebind', '--path', file, '--no-hardware-bound'], { XEMS_SECRET: randomBytes(32).toString('hex') })
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/rebind needs the recovery key: set env XEMS_RECOVERY_KEY/)
  })

  it('explains its usage', () => {
    const result = run(['xems', 'explode'], {})
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/usage: xypriss xems/)
  })
})
