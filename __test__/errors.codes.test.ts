// The XYP_ERR_* codes are declared once (crates/xypriss-napi/src/errors.rs, generated into
// lib/error-codes.ts): no code is spelled out anywhere else, in Rust or in TypeScript, and every
// declared code is thrown somewhere.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { codes } from '../lib/error-codes'

const root = join(__dirname, '..')
const TABLES = ['crates/xypriss-napi/src/errors.rs', 'lib/error-codes.ts']

function sources(dir: string, ext: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sources(path, ext))
    else if (entry.name.endsWith(ext)) out.push(path)
  }
  return out
}

const files = [...sources('lib', '.ts'), ...sources('crates', '.rs')].map((path) => ({
  path: relative(root, join(root, path)),
  text: readFileSync(join(root, path), 'utf8'),
}))

describe('error codes', () => {
  it('are written out only in the table; everything else names them', () => {
    const declared = new Set<string>(Object.values(codes))
    const spelled: string[] = []
    for (const { path, text } of files) {
      for (const [, code] of text.matchAll(/["'`](XYP_ERR_[A-Z0-9_]+)["'`]/g)) {
        expect([path, declared.has(code)]).toEqual([path, true])
        if (!TABLES.includes(path)) spelled.push(`${path}: ${code}`)
      }
    }
    expect(spelled).toEqual([])
  })

  it('are each thrown somewhere', () => {
    const unused = Object.keys(codes).filter((name) => {
      const named = new RegExp(`\\b${name}\\b`)
      return !files.some(({ path, text }) => {
        if (path.endsWith('.ts')) return text.includes(`codes.${name}`)
        return text.split('\n').some((line) => named.test(line) && !line.includes(`${name} = "`))
      })
    })
    expect(unused).toEqual([])
  })
})
