#!/usr/bin/env node
// `npm run test:install`: the packed package installed from its tarballs into empty folders, as a
// user gets it, and made to serve a request on every Node given.
//   prebuilt     root + this platform's package, cargo hidden from PATH: the prebuilt addon serves.
//   source       root alone, cargo on PATH: the install step builds the addon from the shipped
//                sources (offline), which serves. (npm 11 runs it with a notice naming xypriss for
//                approval; it skips it where xypriss is denied.)
//   no-cargo     root alone, cargo hidden: the install step warns once and exits 0;
//                require('xypriss') throws XYP_ERR_NATIVE_MISSING naming the platform, the package
//                and the fix; the fix (`npm install-scripts approve xypriss && npm rebuild xypriss`
//                with cargo) builds the addon, which serves.
// Nodes: this one, plus XYPRISS_TEST_NODES (paths to node binaries, separated like PATH).
// The source build's cargo target dir is XYPRISS_INSTALL_TEST_TARGET_DIR (default: a cache under
// the user's home), so dependencies compile once across runs; the shipped crates always rebuild.
// Ends with "install test: N passed, N failed".
'use strict'
const { spawnSync } = require('node:child_process')
const { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const { homedir, tmpdir } = require('node:os')
const { delimiter, join } = require('node:path')

const root = join(__dirname, '..')
const keep = process.argv.includes('--keep')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const target = require('../binding/target.js')
const { npm: npmCli } = require('./npm-cli.js')

const nodes = [process.execPath, ...(process.env.XYPRISS_TEST_NODES || '').split(delimiter).filter(Boolean)]
const pathWithoutCargo = (process.env.PATH || '')
  .split(delimiter)
  .filter((dir) => dir && !existsSync(join(dir, process.platform === 'win32' ? 'cargo.exe' : 'cargo')))
  .join(delimiter)
const targetDir = process.env.XYPRISS_INSTALL_TEST_TARGET_DIR || join(homedir(), '.cache', 'xypriss', 'install-test-target')

let passed = 0
let failed = 0
function check(name, ok, detail = '') {
  if (ok) passed++
  else failed++
  console.log(`${ok ? 'ok' : 'FAILED'} - ${name}${ok || !detail ? '' : `\n${String(detail).trim().split('\n').slice(-25).map((l) => `    ${l}`).join('\n')}`}`)
  return ok
}

function run(command, args, { cwd, env = {}, timeout = 10 * 60_000 } = {}) {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 })
  return { status: result.status, output: `${result.stdout || ''}${result.stderr || ''}${result.error ? result.error.message : ''}` }
}
function npm(args, { cwd, env = {}, timeout = 10 * 60_000 } = {}) {
  const result = npmCli(args, { cwd, env: { ...process.env, ...env }, timeout })
  return { status: result.status, output: `${result.stdout || ''}${result.stderr || ''}${result.error ? result.error.message : ''}` }
}

const SERVE = `
const http = require('node:http')
const express = require('xypriss')
const app = express()
app.get('/hello/:name', (req, res) => res.json({ hello: req.params.name, node: process.version }))
const server = app.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/hello/installed' }, (res) => {
    let body = ''
    res.on('data', (chunk) => (body += chunk))
    res.on('end', () => {
      console.log(res.statusCode, body)
      server.close(() => process.exit(res.statusCode === 200 && JSON.parse(body).hello === 'installed' && JSON.parse(body).node === process.version ? 0 : 1))
    })
  }).on('error', (error) => { console.error(error); process.exit(1) })
})
`
const MISSING = `
try {
  require('xypriss')
  console.log('loaded')
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }))
}
`

function emptyProject(parent, name) {
  const dir = join(parent, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `install-test-${name}`, version: '1.0.0', private: true }, null, 2))
  writeFileSync(join(dir, 'serve.js'), SERVE)
  writeFileSync(join(dir, 'missing.js'), MISSING)
  return dir
}

function nodeFiles(dir) {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...nodeFiles(path))
    else if (entry.name.endsWith('.node')) found.push(path)
  }
  return found
}

function servesOnEveryNode(dir, env) {
  for (const node of nodes) {
    const version = run(node, ['--version']).output.trim()
    const serve = run(node, ['serve.js'], { cwd: dir, env, timeout: 60_000 })
    check(`serves a request on Node ${version}`, serve.status === 0, serve.output)
  }
}

function main() {
  console.log(`install test: ${target.platform}, Nodes: ${nodes.join(', ')}`)
  const packed = run(process.execPath, [join(__dirname, 'pack-local.js')], { cwd: root, timeout: 30 * 60_000 })
  const tarballs = packed.output.trim().split('\n').filter((line) => line.endsWith('.tgz'))
  if (!check('npm run pack:local writes the root and the platform tarballs', packed.status === 0 && tarballs.length === 2, packed.output)) return
  const [rootTarball, platformTarball] = tarballs

  const work = mkdtempSync(join(tmpdir(), 'xypriss-install-test-'))
  try {
    console.log('# prebuilt: root and platform package, no cargo')
    const prebuilt = emptyProject(work, 'prebuilt')
    const noCargo = { PATH: pathWithoutCargo }
    let step = npm(['install', '--no-audit', '--no-fund', rootTarball, platformTarball], { cwd: prebuilt, env: noCargo })
    if (check('npm install of both tarballs succeeds', step.status === 0, step.output)) {
      const installed = join(prebuilt, 'node_modules', 'xypriss')
      check('the root package ships no .node file', nodeFiles(installed).length === 0, nodeFiles(installed).join('\n'))
      const published = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
      const expected = Object.fromEntries(manifest.napi.targets.map((t) => [`${manifest.napi.packageName}-${target.platformOfTriple(t)}`, manifest.version]))
      check(
        'its optionalDependencies name every platform package at its exact version',
        JSON.stringify(published.optionalDependencies) === JSON.stringify(expected),
        JSON.stringify(published.optionalDependencies),
      )
      const platformPackage = join(prebuilt, 'node_modules', target.prebuiltPackage)
      check(`${target.prebuiltPackage} is installed with its addon`, existsSync(join(platformPackage, `xypriss.${target.platform}.node`)))
      servesOnEveryNode(prebuilt, noCargo)
    }

    console.log('# source: root package alone, cargo on PATH')
    const buildEnv = { CARGO_TARGET_DIR: targetDir, CARGO_NET_OFFLINE: 'true' }
    const source = emptyProject(work, 'source')
    step = npm(['install', '--no-audit', '--no-fund', '--foreground-scripts', rootTarball], { cwd: source, env: buildEnv, timeout: 40 * 60_000 })
    const built = join(source, 'node_modules', 'xypriss', 'binding', `xypriss.${target.platform}.node`)
    if (check('npm install of the root tarball builds the addon from source (offline)', step.status === 0 && existsSync(built), step.output)) {
      check("npm names xypriss's install step for approval", /install-scripts[^\n]*xypriss@/.test(step.output), step.output)
      servesOnEveryNode(source, noCargo)
    }

    console.log('# no-cargo: root package alone, no cargo; then the fix the error gives')
    const bare = emptyProject(work, 'no-cargo')
    step = npm(['install', '--no-audit', '--no-fund', '--foreground-scripts', rootTarball], { cwd: bare, env: noCargo })
    const warnings = step.output.split('xypriss: no native addon loads on').length - 1
    check('npm install succeeds; the install step warns once', step.status === 0 && warnings === 1, step.output)
    for (const node of nodes) {
      const version = run(node, ['--version']).output.trim()
      const attempt = run(node, ['missing.js'], { cwd: bare, env: noCargo })
      let error = {}
      try {
        error = JSON.parse(attempt.output)
      } catch {}
      const message = String(error.message)
      check(
        `require('xypriss') on Node ${version} throws XYP_ERR_NATIVE_MISSING naming ${target.platform}, ${target.prebuiltPackage} and the fix`,
        error.code === 'XYP_ERR_NATIVE_MISSING' &&
          message.includes(target.platform) &&
          message.includes(target.triple) &&
          message.includes(`${target.prebuiltPackage}@${manifest.version}`) &&
          message.includes('npm install --include=optional') &&
          message.includes('https://rustup.rs') &&
          message.includes('npm install-scripts approve xypriss && npm rebuild xypriss'),
        attempt.output,
      )
    }
    // the fix, once Rust is installed
    const approve = npm(['install-scripts', 'approve', 'xypriss'], { cwd: bare })
    const allowed = JSON.parse(readFileSync(join(bare, 'package.json'), 'utf8')).allowScripts
    check('npm install-scripts approve xypriss records the approval', approve.status === 0 && allowed !== undefined, approve.output)
    step = npm(['rebuild', 'xypriss'], { cwd: bare, env: buildEnv, timeout: 40 * 60_000 })
    const rebuilt = join(bare, 'node_modules', 'xypriss', 'binding', `xypriss.${target.platform}.node`)
    if (check('npm rebuild xypriss then builds the addon from source', step.status === 0 && existsSync(rebuilt), step.output)) {
      servesOnEveryNode(bare, noCargo)
    }
  } finally {
    if (keep) console.log(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
}

main()
console.log(`install test: ${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
