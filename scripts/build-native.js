#!/usr/bin/env node
// Makes sure a native addon that fits this platform is loadable: a prebuilt per-platform package,
// an existing local build, or else a fresh release build from the Rust sources.
'use strict'
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const fs = require('node:fs')

const root = path.join(__dirname, '..')
const force = process.argv.includes('--force')

function loadable() {
  try {
    require(path.join(root, 'binding', 'index.js'))
    return true
  } catch {
    return false
  }
}

if (!force && loadable()) {
  console.log('xypriss: native addon found')
  process.exit(0)
}

const napiCli = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
console.log('xypriss: building the native addon from source (cargo build --release)...')
if (fs.existsSync(napiCli)) {
  execFileSync(
    process.execPath,
    [napiCli, 'build', '--platform', '--release', '--manifest-path', 'crates/xypriss-napi/Cargo.toml',
      '--package-json-path', 'package.json', '--output-dir', 'binding', '--js', 'index.js', '--dts', 'index.d.ts',
      '--js-package-name', '@xypriss/binding'],
    { cwd: root, stdio: 'inherit' },
  )
} else {
  // Installed from the registry without dev tools: plain cargo, then name the file as the loader expects.
  execFileSync('cargo', ['build', '--release', '-p', 'xypriss-napi'], { cwd: root, stdio: 'inherit' })
  const ext = process.platform === 'win32' ? 'dll' : process.platform === 'darwin' ? 'dylib' : 'so'
  const prefix = process.platform === 'win32' ? '' : 'lib'
  const built = path.join(root, 'target', 'release', `${prefix}xypriss_napi.${ext}`)
  const abi = process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : process.platform === 'win32' ? '-msvc' : ''
  fs.copyFileSync(built, path.join(root, 'binding', `xypriss.${process.platform}-${process.arch}${abi}.node`))
}
if (!loadable()) {
  console.error('xypriss: the native addon was built but cannot be loaded')
  process.exit(1)
}
