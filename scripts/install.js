#!/usr/bin/env node
// The package's install step. Nothing to do when a native addon loads (the prebuilt optional
// dependency for this platform, or an earlier build). Otherwise, with cargo on the PATH, a release
// build of the Rust sources the package ships, placed where the loader looks first
// (binding/xypriss.<platform>.node). Without cargo: one warning, exit 0, and `require('xypriss')`
// throws XYP_ERR_NATIVE_MISSING with the fix.
// XYPRISS_BUILD_FROM_SOURCE=1 builds even when a prebuilt addon loads.
'use strict'
const { spawnSync } = require('node:child_process')
const { copyFileSync, renameSync, rmSync } = require('node:fs')
const { join } = require('node:path')
const target = require('../binding/target.js')

const force = process.env.XYPRISS_BUILD_FROM_SOURCE === '1'

if (!force && target.tryLoad().loaded) process.exit(0)

if (!target.hasCargo()) {
  // npm shows a dependency's install output only with --foreground-scripts; require('xypriss') says it again
  console.warn(`\n${target.missingAddonMessage({ duringInstall: true })}\n`)
  process.exit(0)
}

console.log(`xypriss: building the native addon for ${target.platform} from source (cargo build --release; a few minutes)`)
// The artifact's path comes from cargo itself, so CARGO_TARGET_DIR and friends are honoured.
const build = spawnSync(
  'cargo',
  ['build', '--release', '--locked', '-p', 'xypriss-napi', '--message-format=json-render-diagnostics'],
  { cwd: target.root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
)
if (build.error || build.status !== 0) {
  console.error(`xypriss: the source build failed (${build.error ? build.error.message : `cargo exited with ${build.status}`}); see cargo's output above`)
  process.exit(1)
}

let library
for (const line of build.stdout.split('\n')) {
  if (!line.startsWith('{')) continue
  const message = JSON.parse(line)
  if (message.reason === 'compiler-artifact' && message.target.name === 'xypriss_napi' && message.target.kind.includes('cdylib')) {
    library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
  }
}
if (library === undefined) {
  console.error('xypriss: cargo reported no cdylib for xypriss-napi')
  process.exit(1)
}

// copy then rename, so a process loading the addon never sees a half-written file
const destination = join(target.root, 'binding', `xypriss.${target.platform}.node`)
copyFileSync(library, `${destination}.tmp`)
renameSync(`${destination}.tmp`, destination)

// checked in a fresh process: this one may hold the addon it loaded before the build
const check = spawnSync(process.execPath, ['-e', "require('./binding/index.js')"], { cwd: target.root, encoding: 'utf8' })
if (check.status !== 0) {
  console.error(`xypriss: built ${destination}, but it does not load:\n${check.stderr}`)
  process.exit(1)
}
console.log(`xypriss: native addon built (${destination})`)

// Installed as a dependency with cargo's default target dir (inside the package): the build
// products are not needed once the addon is in place.
if (/[\\/]node_modules[\\/]/.test(target.root) && library.startsWith(join(target.root, 'target'))) {
  rmSync(join(target.root, 'target'), { recursive: true, force: true })
}
