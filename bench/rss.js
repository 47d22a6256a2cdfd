#!/usr/bin/env node
'use strict';
// Memory test: does a server's resident memory keep growing under sustained load?
// Starts the server, warms it up, records its RSS, drives N requests (default 1,000,000) of
// GET /json at it with wrk, records its RSS again and prints the growth. xypriss and node:http
// (for reference) by default. Linux only (reads /proc/<pid>/status).
//
//   node bench/rss.js [--requests N] [--only xypriss,node-http]     (or: npm run bench -- --rss ...)

const fs = require('node:fs');
const path = require('node:path');
const lib = require('./lib');

const USAGE = `usage: node bench/rss.js [options]      (npm run bench -- --rss [options])

  --requests N      requests to drive after the warm-up (default 1000000)
  --warmup N        seconds of warm-up before the first RSS reading (default 2)
  --connections N   wrk connections (default 64)
  --threads N       wrk threads (default 1)
  --only a,b        servers (default xypriss,node-http; any of ${lib.SERVERS.map((s) => s.name).join(', ')})
  --help            this text
`;

const OPTIONS = {
  requests: 'number',
  warmup: 'number',
  connections: 'number',
  threads: 'number',
  only: 'string',
  help: 'boolean',
};

const FIRST_CHUNK_S = 5; // the first wrk run measures the rate; later runs are sized from it
const SETTLE_MS = 2000; // idle time before the last reading, to let timers and GC run

const mb = (bytes) => bytes / (1024 * 1024);
const fmtMb = (bytes) => `${mb(bytes).toFixed(1)} MB`;
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

async function measureServer(server, opts) {
  const prepared = server.prepare();
  if (!prepared.ok) return { problem: prepared.reason };
  const route = lib.ROUTES.find((r) => r.name === 'json');

  let handle;
  try {
    handle = await lib.startServer(server, prepared);
  } catch (err) {
    return { problem: err.message };
  }
  const pid = handle.child.pid;
  const row = {};
  try {
    const wrong = await lib.verify(server, handle.port, route);
    if (wrong) return Object.assign(row, { problem: `WRONG ANSWER on GET /json: ${wrong}` });

    const wrkOpts = { port: handle.port, route, connections: opts.connections, threads: opts.threads };
    row.rssStart = lib.readRss(pid);
    if (opts.warmup > 0) await lib.runWrk({ ...wrkOpts, seconds: opts.warmup });
    await lib.sleep(500);
    row.rssBefore = lib.readRss(pid);
    lib.log(`  RSS after warm-up: ${fmtMb(row.rssBefore)}`);

    // Drive requests until wrk's total reaches the target, sizing each run from the measured rate.
    row.requests = 0;
    row.errors = 0;
    row.samples = [];
    let seconds = FIRST_CHUNK_S;
    const started = Date.now();
    while (row.requests < opts.requests) {
      const w = await lib.runWrk({ ...wrkOpts, seconds });
      if (handle.exited) return Object.assign(row, { problem: `during the run: ${lib.exitReason(handle)}` });
      if (w.requests === 0) return Object.assign(row, { problem: `no request completed in a ${seconds} s wrk run` });
      row.requests += w.requests;
      row.errors += w.non2xx + Object.values(w.socketErrors).reduce((a, b) => a + b, 0);
      const rss = lib.readRss(pid);
      row.samples.push({ requests: row.requests, rss });
      lib.log(`  ${fmtInt(row.requests)} requests (${fmtInt(w.rps)} req/s), RSS ${fmtMb(rss)}`);
      const remaining = opts.requests - row.requests;
      if (remaining > 0) seconds = Math.max(1, Math.ceil((remaining / Math.max(w.rps, 1)) * 1.05));
    }
    row.seconds = (Date.now() - started) / 1000;
    row.rssAfter = lib.readRss(pid);
    await lib.sleep(SETTLE_MS);
    row.rssSettled = lib.readRss(pid);
    row.rssPeak = lib.readRss(pid, 'VmHWM');

    const wrongAfter = await lib.verify(server, handle.port, route);
    if (wrongAfter) row.problem = `WRONG ANSWER after the load: ${wrongAfter}`;
    return row;
  } catch (err) {
    const problem = handle.exited ? lib.exitReason(handle) : `error: ${err.message.split('\n')[0]}`;
    return Object.assign(row, { problem });
  } finally {
    const stats = await lib.stopServer(handle);
    if (stats) row.stats = stats;
  }
}

async function main(argv = process.argv.slice(2)) {
  let opts;
  try {
    opts = lib.parseArgs(argv, OPTIONS);
    if (opts.help) {
      process.stdout.write(USAGE);
      return;
    }
    opts = { requests: 1_000_000, warmup: 2, connections: 64, threads: 1, only: 'xypriss,node-http', ...opts };
    opts.warmup = Math.round(opts.warmup);
    opts.servers = lib.pickServers(opts.only);
  } catch (err) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (process.platform !== 'linux') {
    console.error('bench/rss.js reads /proc/<pid>/status and runs on Linux only');
    process.exit(2);
  }

  const machine = lib.machineInfo(lib.checkWrk());
  const command = `node bench/rss.js${argv.length ? ' ' + argv.join(' ') : ''}`;
  const results = {};
  for (const server of opts.servers) {
    lib.log(`${server.label}: ${fmtInt(opts.requests)} requests of GET /json ...`);
    results[server.name] = { label: server.label, ...(await measureServer(server, opts)) };
    if (results[server.name].problem) lib.log(`  ${results[server.name].problem}`);
  }

  const lines = [];
  lines.push(`## Memory under load: ${machine.date}`, '');
  lines.push(`- Command: \`${command}\``);
  lines.push(
    `- Load: GET /json, \`wrk -t${opts.threads} -c${opts.connections}\` until ${fmtInt(opts.requests)} requests, ` +
      `after ${opts.warmup} s of warm-up`,
  );
  lines.push(`- Machine: ${machine.nproc} CPUs (nproc), ${machine.cpu}, Node ${machine.node}`);
  lines.push('');
  lines.push('| server | requests | errors | RSS after warm-up | RSS after load | RSS 2 s later | growth | peak RSS |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const server of opts.servers) {
    const r = results[server.name];
    if (r.rssSettled === undefined) {
      lines.push(`| ${server.label} | ${r.problem} | | | | | | |`);
      continue;
    }
    const growth = r.rssSettled - r.rssBefore;
    const label = r.problem ? `${server.label} (${r.problem})` : server.label;
    lines.push(
      `| ${label} | ${fmtInt(r.requests)} | ${fmtInt(r.errors)} | ${fmtMb(r.rssBefore)} | ${fmtMb(r.rssAfter)} | ` +
        `${fmtMb(r.rssSettled)} | ${growth >= 0 ? '+' : ''}${mb(growth).toFixed(1)} MB | ${fmtMb(r.rssPeak)} |`,
    );
  }
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');

  fs.mkdirSync(lib.RESULTS_DIR, { recursive: true });
  const file = path.join(lib.RESULTS_DIR, 'rss-latest.json');
  fs.writeFileSync(file, JSON.stringify({ command, machine, options: { ...opts, servers: undefined }, results }, null, 2) + '\n');
  lib.log(`\nfull results: ${path.relative(process.cwd(), file)}`);
}

module.exports = { main };

if (require.main === module) {
  main().catch((err) => {
    console.error(err.stack || err.message);
    process.exit(1);
  });
}
