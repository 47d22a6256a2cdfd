// lib/'s direction: each module imports (values or types) only from its own layer or those below,
// and nothing imports in a circle. Newcomers read lib/ bottom-up in this order.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(__dirname, '..')

/** Lowest first. A pattern ending in `/` holds the folder's files. */
const LAYERS: Array<[layer: string, files: string[]]> = [
  ['shared declarations', ['lib/types.ts', 'lib/symbols.ts', 'lib/error-codes.ts', 'lib/errors.ts', 'lib/binding.ts', 'lib/target.ts']],
  ['engine: Node http.Server, IncomingMessage, ServerResponse', ['lib/engine/']],
  ["Express's req, res, static files and security middleware", ['lib/request.ts', 'lib/response.ts', 'lib/utils.ts', 'lib/view.ts', 'lib/node-compat.ts', 'lib/static.ts', 'lib/middleware/']],
  ['router', ['lib/router/']],
  ['application', ['lib/application.ts', 'lib/prototypes.ts', 'lib/route-mirror.ts', 'lib/prelude.ts']],
  ['public API', ['lib/xems/', 'lib/xypriss.ts', 'lib/index.ts', 'lib/esm.ts']],
]

function layerOf(file: string): number {
  return LAYERS.findIndex(([, patterns]) =>
    patterns.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)),
  )
}

function sources(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) out.push(...sources(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** The lib/ modules `file` imports, type-only imports and require() included. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true)
  const out: string[] = []
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue
    const base = join(dirname(join(root, file)), fileName)
    const target = [`${base}.ts`, join(base, 'index.ts')].find(existsSync)
    // './index.cjs' from esm.ts is the built bundle, not a module of lib/
    if (target !== undefined) out.push(relative(root, target))
  }
  return out
}

const files = sources('lib')
const graph = new Map(files.map((file) => [file, importsOf(file)]))

describe("lib/'s layers", () => {
  it('place every module', () => {
    expect(files.filter((file) => layerOf(file) === -1)).toEqual([])
  })

  it('are imported only downwards', () => {
    const upward: string[] = []
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (layerOf(target) > layerOf(file)) upward.push(`${file} (${LAYERS[layerOf(file)][0]}) imports ${target} (${LAYERS[layerOf(target)][0]})`)
      }
    }
    expect(upward).toEqual([])
  })

  it('have no import cycles', () => {
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '))
        return
      }
      state.set(file, 'open')
      for (const target of graph.get(file) ?? []) visit(target, [...path, file])
      state.set(file, 'done')
    }
    for (const file of files) visit(file, [])
    expect(cycles).toEqual([])
  })
})
