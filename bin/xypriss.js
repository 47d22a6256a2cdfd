#!/usr/bin/env node
// npx xypriss xems inspect|compact|rebind --path FILE [--passphrase] [--no-hardware-bound]
//   [--recovery-key-file FILE | --recovery-key-stdin]
// Secrets never come from argv, where `ps` and shell history would show them: the secret from
// env XEMS_SECRET (or XEMS_PASSPHRASE with --passphrase), the recovery key from env
// XEMS_RECOVERY_KEY, a file, or stdin.
'use strict'
const fs = require('node:fs')
const { parseArgs } = require('node:util')

const usage = `usage: xypriss xems <inspect|compact|rebind> --path FILE [options]
  --path FILE                the .xem store
  --passphrase               the secret is a passphrase, read from env XEMS_PASSPHRASE
  --no-hardware-bound        the store was created with hardwareBound: false
  --recovery-key-file FILE   rebind: read the recovery key from FILE
  --recovery-key-stdin       rebind: read the recovery key from stdin
The secret is read from env XEMS_SECRET (or XEMS_PASSPHRASE). For rebind, the recovery key
shown when the store was created is read from env XEMS_RECOVERY_KEY unless one of the two
options above says otherwise.`

const recoveryKeySources = 'set env XEMS_RECOVERY_KEY, or pass --recovery-key-file FILE or --recovery-key-stdin'

/** The argument (never its value) that tries to put a secret on the command line. */
function secretOnCommandLine(args) {
  return args.find((arg) => /^--(recovery-key|secret|passphrase=)/.test(arg) && !/^--recovery-key-(file|stdin)(=|$)/.test(arg))
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', (chunk) => chunks.push(chunk))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

/** The recovery key for rebind, from exactly one of: a file, stdin, env XEMS_RECOVERY_KEY. */
async function recoveryKey(values) {
  const file = values['recovery-key-file']
  const stdin = values['recovery-key-stdin']
  if (file !== undefined && stdin) throw usageError('give the recovery key once: --recovery-key-file or --recovery-key-stdin')
  let key
  if (file !== undefined) key = fs.readFileSync(file, 'utf8')
  else if (stdin) key = await readStdin()
  else key = process.env.XEMS_RECOVERY_KEY
  key = (key ?? '').trim()
  if (key === '') throw usageError(`rebind needs the recovery key: ${recoveryKeySources}`)
  return key
}

function usageError(message) {
  const error = new Error(message)
  error.exitCode = 2
  return error
}

async function main(argv) {
  const [area, command, ...rest] = argv
  const planted = secretOnCommandLine(rest)
  if (planted !== undefined) {
    const name = planted.split('=')[0]
    console.error(
      name.startsWith('--recovery-key')
        ? `${name}: the recovery key is not taken from the command line, where process listings and shell history would show it: ${recoveryKeySources}`
        : `${name}: secrets are not taken from the command line; set env XEMS_SECRET (or XEMS_PASSPHRASE with --passphrase)`,
    )
    return 2
  }
  if (area !== 'xems' || !['inspect', 'compact', 'rebind'].includes(command)) {
    console.error(usage)
    return 2
  }
  let values
  try {
    ;({ values } = parseArgs({
      args: rest,
      options: {
        path: { type: 'string' },
        passphrase: { type: 'boolean', default: false },
        'no-hardware-bound': { type: 'boolean', default: false },
        'recovery-key-file': { type: 'string' },
        'recovery-key-stdin': { type: 'boolean', default: false },
      },
    }))
  } catch (error) {
    console.error(`${error.message}\n${usage}`)
    return 2
  }
  if (!values.path) {
    console.error(usage)
    return 2
  }
  const options = {
    path: values.path,
    hardwareBound: !values['no-hardware-bound'],
    ...(values.passphrase ? { passphrase: process.env.XEMS_PASSPHRASE } : { secret: process.env.XEMS_SECRET }),
  }
  if (command === 'rebind') {
    try {
      options.recoveryKey = await recoveryKey(values)
    } catch (error) {
      console.error(error.message)
      return error.exitCode ?? 1
    }
  }
  const { xems } = require('..')
  const store = await xems.open(options)
  try {
    if (command === 'compact') {
      const before = store.stats()
      await store.compact()
      const after = store.stats()
      console.log(`compacted ${values.path}: ${before.fileSize} -> ${after.fileSize} bytes, ${after.liveRecords} live records`)
    } else if (command === 'rebind') {
      console.log(`re-bound ${values.path} to this machine and secret; ${store.stats().liveRecords} live records`)
    } else {
      const stats = store.stats()
      if (store.droppedTailBytes) stats.droppedTailBytes = store.droppedTailBytes
      console.log(JSON.stringify(stats, null, 2))
    }
  } finally {
    await store.close()
  }
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    console.error(`${error.code ?? 'error'}: ${error.message}`)
    process.exitCode = 1
  },
)
