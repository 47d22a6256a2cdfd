// A view for app.render(): finds the template file and renders it with its engine, as Express's lib/view.js.
import fs from 'node:fs'
import path from 'node:path'
import type { RenderCallback, TemplateEngine } from './types'

export interface ViewOptions {
  defaultEngine?: string
  root?: string | string[]
  engines: Record<string, TemplateEngine>
}

export class View {
  defaultEngine: string | undefined
  ext: string
  name: string
  root: string | string[] | undefined
  engine: TemplateEngine
  path: string | undefined

  constructor(name: string, options: ViewOptions) {
    const opts = options || ({} as ViewOptions)
    this.defaultEngine = opts.defaultEngine
    this.ext = path.extname(name)
    this.name = name
    this.root = opts.root

    if (!this.ext && !this.defaultEngine) {
      throw new Error('No default engine was specified and no extension was provided.')
    }

    let fileName = name
    if (!this.ext) {
      // the extension comes from the default engine's name
      this.ext = this.defaultEngine![0] !== '.' ? '.' + this.defaultEngine : this.defaultEngine!
      fileName += this.ext
    }

    if (!opts.engines[this.ext]) {
      // load the engine by the extension's name, as Express: `require(ext).__express`
      const mod = this.ext.slice(1)
      const fn = (require(mod) as { __express?: unknown }).__express
      if (typeof fn !== 'function') throw new Error('Module "' + mod + '" does not provide a view engine.')
      opts.engines[this.ext] = fn as TemplateEngine
    }

    this.engine = opts.engines[this.ext]
    this.path = this.lookup(fileName)
  }

  /** The first `<root>/<name>` or `<root>/<name>/index.<ext>` that is a file, over every root. */
  lookup(name: string): string | undefined {
    let found: string | undefined
    const roots = ([] as Array<string | undefined>).concat(this.root)
    for (let i = 0; i < roots.length && !found; i++) {
      const loc = path.resolve(roots[i] as string, name)
      found = this.resolve(path.dirname(loc), path.basename(loc))
    }
    return found
  }

  /** Renders with the engine; the callback always runs asynchronously, even for synchronous engines. */
  render(options: object, callback: RenderCallback): void {
    let sync = true
    this.engine(this.path!, options, function onRender(this: unknown, ...args: Parameters<RenderCallback>) {
      if (!sync) return callback.apply(this, args)
      return process.nextTick(() => callback.apply(this, args))
    })
    sync = false
  }

  resolve(dir: string, file: string): string | undefined {
    const ext = this.ext
    // <path>.<ext>
    let candidate = path.join(dir, file)
    let stat = tryStat(candidate)
    if (stat?.isFile()) return candidate
    // <path>/index.<ext>
    candidate = path.join(dir, path.basename(file, ext), 'index' + ext)
    stat = tryStat(candidate)
    if (stat?.isFile()) return candidate
    return undefined
  }
}

function tryStat(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p)
  } catch {
    return undefined
  }
}
