import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

describe('public types', () => {
  it('type-check an app that uses the Express surface, XEMS and createServer', () => {
    const tsc = path.join(__dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc')
    const result = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'fixtures', 'types')], { encoding: 'utf8', timeout: 60_000 })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })
})
