import { describe, expect, it } from 'vitest'

// `import express, { Router, json, static as serveStatic } from 'express'` keeps working after
// the swap: every name Express's module gives an ESM importer, xypriss's gives too.
describe('ESM exports', () => {
  it("include every named export of express@5's, with the same kind of value", async () => {
    const expressModule: Record<string, unknown> = await import('express')
    const xyprissModule: Record<string, unknown> = await import('xypriss')
    const names = Object.keys(expressModule).filter((name) => name !== 'default' && name !== 'module.exports')
    expect(names).toEqual(expect.arrayContaining(['Router', 'json', 'static', 'request', 'response', 'application']))
    for (const name of names) expect([name, typeof xyprissModule[name]]).toEqual([name, typeof expressModule[name]])
    expect(typeof xyprissModule.default).toBe('function')
  })

  it("include xypriss's helmet, cors and rateLimit, the same functions as the CommonJS ones", async () => {
    const esm: Record<string, unknown> = await import('xypriss')
    const { createRequire } = await import('node:module')
    const cjs = createRequire(import.meta.url)('xypriss')
    for (const name of ['helmet', 'cors', 'rateLimit']) {
      expect([name, typeof esm[name]]).toEqual([name, 'function'])
      expect(esm[name]).toBe(cjs[name])
    }
  })
})
