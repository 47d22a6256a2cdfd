#!/usr/bin/env node
// npx xypriss xems inspect|compact|rebind --path FILE [--recovery-key KEY] [--passphrase] [--no-hardware-bound]
// The secret comes from env XEMS_SECRET (or XEMS_PASSPHRASE with --passphrase), never from argv,
// so it does not land in shell history or process listings.
'use strict'
const { parseArgs } = require('node:util')

const usage = `usage: xypriss xems <inspect|compact|rebind> --path FILE [options]
  --path FILE              the .xem store
  --recovery-key KEY       rebind: the recovery key shown when the store was created
  --passphrase             the secret is a passphrase, read from env XEMS_PASSPHRASE
  --no-hardware-bound      the store was created with hardwareBound: false
The secret is read from env XEMS_SECRET (or XEMS_PASSPHRASE).`

async function main(argv) {
  const [area, command, ...rest] = argv
  if (area !== 'xems' || !['inspect', 'compact', 'rebind'].includes(command)) {
    console.error(usage)
    return 2
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      path: { type: 'string' },
      'recovery-key': { type: 'string' },
      passphrase: { type: 'boolean', default: false },
      'no-hardware-bound': { type: 'boolean', default: false },
    },
  })
  if (!values.path) {
    console.error(usage)
    return 2
  }
  if (command === 'rebind' && !values['recovery-key']) {
    console.error('rebind needs --recovery-key')
    return 2
  }
  const { xems } = require('..')
  const options = {
    path: values.path,
    hardwareBound: !values['no-hardware-bound'],
    ...(values.passphrase ? { passphrase: process.env.XEMS_PASSPHRASE } : { secret: process.env.XEMS_SECRET }),
    ...(command === 'rebind' ? { recoveryKey: values['recovery-key'] } : {}),
  }
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
