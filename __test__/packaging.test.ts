import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// The package as npm publishes it, napi-rs's way: a root package with no addon inside and one
// package per platform (npm/<platform>/), which the root lists as optional dependencies at its own
// version (`napi pre-publish` writes them at release; `npm version` runs `napi version`).
// The whole install, from tarballs into empty folders, is scripts/install-test.js.

const require = createRequire(import.meta.url)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const target = require('../binding/target.js')
const { publishedManifest } = require('../scripts/pack-local.js')
const { npm } = require('../scripts/npm-cli.js')
const napiCli = join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')

const scratch: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xypriss-packaging-'))
  scratch.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true })
})

async function napiTargets(): Promise<{ triple: string; platformArchABI: string; platform: string; arch: string; abi: string | null }[]> {
  const { parseTriple } = await import('@napi-rs/cli')
  return manifest.napi.targets.map((t: string) => parseTriple(t))
}

/** The root package's files as `npm pack` selects them. */
function packedFiles(): string[] {
  const [listing] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root }).stdout)
  return listing.files.map((f: { path: string }) => f.path)
}

/** A git repository holding the release-relevant files, as the release job has them. */
function releaseCopy(): string {
  const dir = tempDir()
  for (const path of ['package.json', 'npm', 'binding/index.js', 'binding/index.d.ts', 'index.d.ts']) cpSync(join(root, path), join(dir, path), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'junction')
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: dir, stdio: 'ignore' })
  git('init', '-q')
  git('add', '-A')
  git('commit', '-q', '-m', 'release copy')
  return dir
}

describe('the platform packages', () => {
  it('npm/ holds one package per napi target, named, versioned and restricted to its platform', async () => {
    const targets = await napiTargets()
    expect(readdirSync(join(root, 'npm')).sort()).toEqual(targets.map((t) => t.platformArchABI).sort())
    for (const t of targets) {
      const pkg = JSON.parse(readFileSync(join(root, 'npm', t.platformArchABI, 'package.json'), 'utf8'))
      const binary = `${manifest.napi.binaryName}.${t.platformArchABI}.node`
      expect(pkg.name).toBe(`${manifest.napi.packageName}-${t.platformArchABI}`)
      expect(pkg.version).toBe(manifest.version)
      expect(pkg.os).toEqual([t.platform])
      expect(pkg.cpu).toEqual([t.arch])
      if (t.platform === 'linux') expect(pkg.libc).toEqual([t.abi === 'gnu' ? 'glibc' : t.abi])
      else expect(pkg.libc).toBeUndefined()
      expect(pkg.main).toBe(binary)
      expect(pkg.files).toEqual([binary])
      expect(pkg.engines).toEqual(manifest.engines)
      expect(pkg.repository).toEqual(manifest.repository)
    }
  })

  it("the runtime's platform naming (binding/target.js) is napi-rs's", async () => {
    for (const t of await napiTargets()) expect(target.platformOfTriple(t.triple)).toBe(t.platformArchABI)
    expect(target.prebuiltPackage).toBe(`${manifest.napi.packageName}-${target.platform}`)
  })
})

describe('the release steps keep the versions in sync', () => {
  it('the release job: npm run artifacts fills npm/<platform>/, napi pre-publish lists every platform package at the exact version, as pack:local does', async () => {
    const dir = releaseCopy()
    // as actions/download-artifact lays out the build job's uploads
    for (const t of await napiTargets()) {
      const artifact = join(dir, 'artifacts', `bindings-${t.triple}`)
      mkdirSync(artifact, { recursive: true })
      writeFileSync(join(artifact, `${manifest.napi.binaryName}.${t.platformArchABI}.node`), `placeholder for ${t.triple}`)
    }
    const artifacts = npm(['run', 'artifacts'], { cwd: dir })
    expect(artifacts.status, artifacts.stderr).toBe(0)
    for (const t of await napiTargets()) {
      const binary = join(dir, 'npm', t.platformArchABI, `${manifest.napi.binaryName}.${t.platformArchABI}.node`)
      expect(readFileSync(binary, 'utf8')).toBe(`placeholder for ${t.triple}`)
    }
    const result = spawnSync(process.execPath, [napiCli, 'pre-publish', '-t', 'npm', '--npm-dir', 'npm', '--skip-optional-publish'], { cwd: dir, encoding: 'utf8' })
    expect(result.status, result.stderr).toBe(0)
    const released = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    const expected = Object.fromEntries((await napiTargets()).map((t) => [`${manifest.napi.packageName}-${t.platformArchABI}`, manifest.version]))
    expect(released.optionalDependencies).toEqual(expected)
    expect((await publishedManifest(manifest)).optionalDependencies).toEqual(expected)
  })

  it('npm version moves every platform package to the new version', () => {
    const dir = releaseCopy()
    const result = npm(['version', '9.8.7', '--no-git-tag-version'], { cwd: dir })
    expect(result.status, result.stderr).toBe(0)
    for (const platform of readdirSync(join(dir, 'npm'))) {
      expect(JSON.parse(readFileSync(join(dir, 'npm', platform, 'package.json'), 'utf8')).version).toBe('9.8.7')
    }
  })
})

describe('the root package', () => {
  const files = packedFiles()

  it('ships no addon, and the loader, the install step and the Rust sources', () => {
    expect(files.filter((f) => f.endsWith('.node'))).toEqual([])
    for (const f of ['dist/index.cjs', 'dist/index.mjs', 'index.d.ts', 'binding/index.js', 'binding/target.js', 'scripts/install.js', 'Cargo.toml', 'Cargo.lock', '.cargo/config.toml']) {
      expect(files).toContain(f)
    }
    expect(manifest.scripts.install).toBe('node scripts/install.js')
  })

  it('ships a Cargo workspace that loads: every member is in the package', () => {
    const dir = tempDir()
    for (const f of files) cpSync(join(root, f), join(dir, f))
    const metadata = spawnSync('cargo', ['metadata', '--offline', '--no-deps', '--format-version', '1', '--manifest-path', join(dir, 'Cargo.toml')], { encoding: 'utf8' })
    expect(metadata.status, metadata.stderr).toBe(0)
    const members = JSON.parse(metadata.stdout).packages.map((p: { name: string }) => p.name).sort()
    expect(members).toContain('xypriss-napi')
    expect(members).not.toContain('xypriss-bench-ceiling')
  })
})

describe('without an addon that loads', () => {
  // The built package without its .node file, outside the repository (so no platform package can
  // be found); its dependencies come from the repository's node_modules.
  function bareCopy(): string {
    const dir = tempDir()
    for (const path of ['package.json', 'dist', 'binding/index.js', 'binding/target.js']) cpSync(join(root, path), join(dir, path), { recursive: true })
    return dir
  }
  const load = (dir: string) =>
    spawnSync(process.execPath, ['-e', `try { require(${JSON.stringify(dir)}) } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: e.cause && e.cause.message })) }`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
    })

  it('require throws XYP_ERR_NATIVE_MISSING naming the platform, the package that fits and the fix', () => {
    const error = JSON.parse(load(bareCopy()).stdout)
    expect(error.code).toBe('XYP_ERR_NATIVE_MISSING')
    expect(error.message).toContain(`no native addon loads on ${target.platform} (${target.triple})`)
    expect(error.message).toContain(`${target.prebuiltPackage}@${manifest.version}, an optional dependency, which is not installed`)
    expect(error.message).toContain('npm install --include=optional')
    expect(error.message).toContain('npm install-scripts approve xypriss && npm rebuild xypriss')
    expect(error.cause).toContain(`Cannot find module '${target.prebuiltPackage}'`)
  })

  it('says so when the platform package is there but its addon does not load', () => {
    const dir = bareCopy()
    const pkg = join(dir, 'node_modules', target.prebuiltPackage)
    mkdirSync(pkg, { recursive: true })
    cpSync(join(root, 'npm', target.platform, 'package.json'), join(pkg, 'package.json'))
    writeFileSync(join(pkg, `xypriss.${target.platform}.node`), 'not a shared library')
    const error = JSON.parse(load(dir).stdout)
    expect(error.code).toBe('XYP_ERR_NATIVE_MISSING')
    expect(error.message).toContain(`${target.prebuiltPackage}@${manifest.version}, is installed but does not load`)
    // the loader's own error for that file (the dynamic linker's words differ by platform)
    expect(error.cause).toContain(join(pkg, `xypriss.${target.platform}.node`))
  })
})
