#!/usr/bin/env node
// XEMS against the usual choices, same run, same machine:
//   reads  : `await store.get()` from JS vs express-session's MemoryStore.get
//   writes : durable writes from 64 concurrent writers vs better-sqlite3 (WAL, synchronous=FULL,
//            one row per write, each its own transaction)
// usage: node bench/xems.js [--seconds N]
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { randomBytes } = require('node:crypto')

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 3
const KEYS = 10_000
const WRITERS = 64
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xems-bench-'))
const value = JSON.stringify({ user: 'ada', roles: ['admin'], csrf: randomBytes(16).toString('hex') })

async function timed(fn) {
  const deadline = process.hrtime.bigint() + BigInt(seconds * 1e9)
  let ops = 0
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < deadline) ops += await fn()
  return (ops * 1e9) / Number(process.hrtime.bigint() - start)
}

async function xemsReads(store) {
  let i = 0
  return timed(async () => {
    for (let n = 0; n < 1000; n++) await store.get('s', `k${i++ % KEYS}`)
    return 1000
  })
}

async function memoryStoreReads() {
  const { MemoryStore } = require('express-session')
  const ms = new MemoryStore()
  for (let i = 0; i < KEYS; i++) ms.set(`k${i}`, { cookie: { originalMaxAge: null }, data: value }, () => {})
  const get = (sid) => new Promise((resolve, reject) => ms.get(sid, (err, s) => (err ? reject(err) : resolve(s))))
  let i = 0
  return timed(async () => {
    for (let n = 0; n < 1000; n++) await get(`k${i++ % KEYS}`)
    return 1000
  })
}

async function xemsWrites(store) {
  let i = 0
  return timed(async () => {
    // 64 writers, each with one write in flight: one round = 64 durable writes
    await Promise.all(Array.from({ length: WRITERS }, () => store.set('w', `k${i++ % KEYS}`, value)))
    return WRITERS
  })
}

async function sqliteWrites() {
  const Database = require('better-sqlite3')
  const db = new Database(path.join(dir, 'bench.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)')
  const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)')
  let i = 0
  const rate = await timed(async () => {
    // better-sqlite3 is synchronous: 64 "concurrent" writers still commit one after another
    await Promise.all(Array.from({ length: WRITERS }, async () => put.run(`k${i++ % KEYS}`, value)))
    return WRITERS
  })
  db.close()
  return rate
}

async function main() {
  const { xems } = require('..')
  const store = await xems.open({ path: path.join(dir, 'bench.xem'), secret: randomBytes(32), hardwareBound: false })
  for (let i = 0; i < KEYS; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => store.set('s', `k${i + j}`, value)))
  }
  const rows = []
  const xr = await xemsReads(store)
  const mr = await memoryStoreReads()
  const xw = await xemsWrites(store)
  const stats = store.stats()
  await store.close()
  let sw
  try {
    sw = await sqliteWrites()
  } catch (error) {
    console.error(`better-sqlite3 unavailable (${error.message}); writes compared with nothing`)
  }
  rows.push(['reads: xems `await get()`', xr], ['reads: express-session MemoryStore', mr])
  rows.push(['durable writes, 64 writers: xems', xw])
  if (sw) rows.push(['durable writes, 64 writers: better-sqlite3 WAL FULL', sw])
  console.log(`\n- Machine: ${os.cpus().length} CPUs, ${os.cpus()[0].model}, Node ${process.version}`)
  console.log(`- Command: node bench/xems.js --seconds ${seconds}; ${KEYS} keys, values of ${value.length} bytes\n`)
  console.log('| operation | ops/s |\n|---|--:|')
  for (const [name, rate] of rows) console.log(`| ${name} | ${Math.round(rate).toLocaleString('en-US')} |`)
  console.log(`\nxems reads ÷ MemoryStore reads: ${(xr / mr).toFixed(2)}×`)
  if (sw) console.log(`xems durable writes ÷ better-sqlite3: ${(xw / sw).toFixed(2)}×`)
  console.log(`xems group commit: ${stats.writes} writes in ${stats.fsyncs} fsyncs (${(stats.writes / stats.fsyncs).toFixed(1)} writes per fsync)`)
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
