#!/usr/bin/env node
// `npm run pack:local`: what a release publishes, packed from the current tree into pack/:
// - the root package, with no .node inside and, as `napi pre-publish` writes them at release, an
//   optional dependency on every platform package at this exact version;
// - this platform's package (`@xypriss/binding-<platform>`) with the addon built here.
// It builds first (release addon from the Rust sources, then lib/); `--no-build` packs what is built.
'use strict'
const { execFileSync } = require('node:child_process')
const { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { basename, join } = require('node:path')

const root = join(__dirname, '..')
const out = join(root, 'pack')
const { npm } = require('./npm-cli.js')

function run(command, args, options = {}) {
  return execFileSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options })
}

function runNpm(args, options = {}) {
  const result = npm(args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], ...options })
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed${result.error ? `: ${result.error.message}` : ''}`)
  return result.stdout
}

/** The root manifest as published: napi pre-publish's optionalDependencies (see __test__/packaging.test.ts). */
async function publishedManifest(manifest) {
  const { parseTriple } = await import('@napi-rs/cli')
  const optionalDependencies = { ...manifest.optionalDependencies }
  for (const triple of manifest.napi.targets) {
    optionalDependencies[`${manifest.napi.packageName}-${parseTriple(triple).platformArchABI}`] = manifest.version
  }
  return { ...manifest, optionalDependencies }
}

/** `npm pack` of `dir` into pack/; the tarball's path. */
function pack(dir) {
  const [result] = JSON.parse(runNpm(['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: dir }))
  return join(out, result.filename)
}

async function main() {
  if (!process.argv.includes('--no-build')) {
    run(process.execPath, [join(__dirname, 'install.js')], { stdio: 'inherit', env: { ...process.env, XYPRISS_BUILD_FROM_SOURCE: '1' } })
    runNpm(['run', 'build:ts'], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  const target = require('../binding/target.js')
  if (target.triple === undefined) throw new Error(`no platform package is configured for ${target.platform}`)
  const addon = join(root, 'binding', `xypriss.${target.platform}.node`)
  if (!existsSync(addon)) throw new Error(`${addon} is missing: build it (npm run build) or drop --no-build`)

  mkdirSync(out, { recursive: true })
  const stage = mkdtempSync(join(tmpdir(), 'xypriss-pack-'))
  try {
    // the root package: npm's own file list, with the manifest as published
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    const [listing] = JSON.parse(runNpm(['pack', '--dry-run', '--json', '--ignore-scripts']))
    const rootStage = join(stage, 'root')
    for (const { path } of listing.files) cpSync(join(root, path), join(rootStage, path))
    writeFileSync(join(rootStage, 'package.json'), JSON.stringify(await publishedManifest(manifest), null, 2) + '\n')
    const rootTarball = pack(rootStage)

    // this platform's package, as `napi artifacts` fills npm/<platform>/ at release
    const platformStage = join(stage, target.platform)
    cpSync(join(root, 'npm', target.platform), platformStage, { recursive: true })
    cpSync(addon, join(platformStage, basename(addon)))
    const platformTarball = pack(platformStage)

    console.log(rootTarball)
    console.log(platformTarball)
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

module.exports = { publishedManifest }

if (require.main === module) {
  main().catch((error) => {
    console.error(`pack:local: ${error.message}`)
    process.exit(1)
  })
}
