// Runs npm from a script or a test, the same way on every platform: npm's own CLI under this Node
// when npm started us (npm_execpath), else the `npm` on the PATH (npm.cmd, through a shell, on
// Windows, which runs no .cmd file without one).
'use strict'
const { spawnSync } = require('node:child_process')

function npmSpawnArgs(args) {
  const cli = process.env.npm_execpath
  if (cli && /npm-cli\.[cm]?js$/.test(cli)) return [process.execPath, [cli, ...args], {}]
  if (process.platform === 'win32') return ['npm.cmd', args, { shell: true }]
  return ['npm', args, {}]
}

/** `npm <args>`: { status, stdout, stderr, error } as spawnSync gives them. */
function npm(args, options = {}) {
  const [command, commandArgs, extra] = npmSpawnArgs(args)
  return spawnSync(command, commandArgs, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options, ...extra })
}

module.exports = { npm }
