#!/usr/bin/env node
'use strict';
// npm run bench: the same routes on node:http, Express 5, Fastify 5, xypriss and a pure-Rust
// hyper server, in one run on one machine, reported as markdown tables of req/s, p99 and ratios.
// See bench/README.md. Progress goes to stderr; the markdown report goes to stdout.

const fs = require('node:fs');
const path = require('node:path');
const lib = require('./lib');

const USAGE = `usage: node bench/run.js [options]      (npm run bench -- [options])

  --duration N      seconds of measured load per route and server (default 10)
  --warmup N        seconds of unmeasured load before each measurement (default 2)
  --connections N   wrk connections (default 64)
  --threads N       wrk threads (default 1)
  --only a,b        servers: ${lib.SERVERS.map((s) => s.name).join(', ')}
  --routes a,b      routes: ${lib.ROUTES.map((r) => r.name).join(', ')}
  --rss             run the memory test instead (same as node bench/rss.js; see its --help)
  --help            this text
`;

const OPTIONS = {
  duration: 'number',
  warmup: 'number',
  connections: 'number',
  threads: 'number',
  only: 'string',
  routes: 'string',
  help: 'boolean',
};

// ---------------------------------------------------------------------------------------------
// Formatting

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

function fmtMs(ms) {
  if (ms == null) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(0)} ms`;
}

function fmtRatio(a, b) {
  if (!a || !b) return '—';
  return `${(a / b).toFixed(2)}×`;
}

// Text safe inside a markdown table cell.
function cell(text) {
  return String(text).replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

function socketErrorCount(e) {
  return e.connect + e.read + e.write + e.timeout;
}

function fmtSocketErrors(e) {
  const total = socketErrorCount(e);
  if (total === 0) return '0';
  return Object.entries(e)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${fmtInt(n)}`)
    .join(', ');
}

// Per-route numbers from xypriss's engineStats() counters (requests per JS wake-up, native calls
// per request). The counters cover the whole child process: verification + warm-up + measurement.
function describeStats(stats) {
  if (!stats) return null;
  if (stats.unparsed) return `unparseable STATS line: ${stats.unparsed}`;
  const parts = [];
  if (stats.requests === 0) parts.push('no request reached JS (all answered natively)');
  if (stats.requests > 0 && stats.wakeups > 0) {
    parts.push(`${(stats.requests / stats.wakeups).toFixed(1)} requests per JS wake-up`);
  }
  if (stats.maxBatch > 0) parts.push(`max batch ${stats.maxBatch}`);
  if (stats.requests > 0 && stats.nativeCalls != null) {
    parts.push(`${(stats.nativeCalls / stats.requests).toFixed(2)} native calls per request`);
  }
  parts.push(`raw ${JSON.stringify(stats)}`);
  return parts.join(', ');
}

function routeTable(route, servers, rows) {
  const x = rows.get('xypriss');
  const xRps = x && x.wrk ? x.wrk.rps : null;
  const out = [];
  out.push(`### ${route.title}`, '');
  out.push('| server | req/s | p99 | non-2xx | socket errors | xypriss ÷ this |');
  out.push('|---|--:|--:|--:|--:|--:|');
  for (const server of servers) {
    const row = rows.get(server.name);
    if (row && row.na) {
      out.push(`| ${server.label} | ${cell(row.na)} | | | | |`);
      continue;
    }
    if (!row || !row.wrk) {
      out.push(`| ${server.label} | ${cell(row ? row.problem : 'not run')} | | | | |`);
      continue;
    }
    const w = row.wrk;
    let ratio = server.name === 'xypriss' ? '1.00×' : fmtRatio(xRps, w.rps);
    if (server.name === 'ceiling' && xRps) ratio += ` (${((100 * xRps) / w.rps).toFixed(0)} % of ceiling)`;
    const non2xx = route.expectErrorStatus
      ? `${fmtInt(w.non2xx)} (404s expected)`
      : fmtInt(w.non2xx);
    out.push(
      `| ${server.label} | ${fmtInt(w.rps)} | ${fmtMs(w.latencyMs.p99)} | ${non2xx} | ${fmtSocketErrors(w.socketErrors)} | ${ratio} |`,
    );
  }
  if (x && x.stats) out.push('', `xypriss engine: ${describeStats(x.stats)}.`);
  out.push('');
  return out.join('\n');
}

function summaryTable(routes, results) {
  const others = [
    ['node-http', 'xypriss ÷ node:http'],
    ['express', 'xypriss ÷ Express'],
    ['fastify', 'xypriss ÷ Fastify'],
    ['ceiling', 'xypriss ÷ Rust ceiling'],
  ];
  const out = ['### Summary: xypriss req/s as a multiple of each server', ''];
  out.push(`| route | ${others.map(([, t]) => t).join(' | ')} |`);
  out.push(`|---|${others.map(() => '--:').join('|')}|`);
  const xyprissMeasured = routes.some((route) => {
    const row = results.get(route.name).get('xypriss');
    return row && row.wrk;
  });
  if (!xyprissMeasured) {
    const row = results.get(routes[0].name).get('xypriss');
    return `${out[0]}\n\nNo xypriss numbers in this run${row && row.problem ? ` (${cell(row.problem)})` : ''}.\n`;
  }
  for (const route of routes) {
    const rows = results.get(route.name);
    const rps = (name) => {
      const row = rows.get(name);
      return row && row.wrk ? row.wrk.rps : null;
    };
    const ratio = (name) => {
      const row = rows.get(name);
      return row && row.na ? 'n/a' : fmtRatio(rps('xypriss'), rps(name));
    };
    out.push(`| ${route.title} | ${others.map(([name]) => ratio(name)).join(' | ')} |`);
  }
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// One measurement: fresh server process, verify, warm up, measure, stop (and collect STATS).

async function measure(server, prepared, route, opts) {
  let handle;
  try {
    handle = await lib.startServer(server, prepared);
  } catch (err) {
    return { problem: err.message };
  }
  let row;
  try {
    row = await verifyAndLoad(server, handle, route, opts);
  } catch (err) {
    row = { problem: handle.exited ? lib.exitReason(handle) : `error: ${err.message.split('\n')[0]}` };
  }
  const stats = await lib.stopServer(handle);
  if (stats) row.stats = stats;
  return row;
}

async function verifyAndLoad(server, handle, route, opts) {
  const wrong = await lib.verify(server, handle.port, route);
  if (wrong) return { problem: `WRONG ANSWER, not measured: ${wrong}` };

  const wrkOpts = { port: handle.port, route, connections: opts.connections, threads: opts.threads };
  if (opts.warmup > 0) await lib.runWrk({ ...wrkOpts, seconds: opts.warmup });
  const wrk = await lib.runWrk({ ...wrkOpts, seconds: opts.duration });
  if (handle.exited) return { problem: `during the run: ${lib.exitReason(handle)}` };
  if (wrk.requests === 0) return { problem: 'no request completed during the measured run', discardedWrk: wrk };

  // Answering correctly when idle is not enough: check again after the load.
  const wrongAfter = await lib.verify(server, handle.port, route);
  if (wrongAfter) {
    // Kept in latest.json for debugging, never reported.
    return { problem: `WRONG ANSWER after the load, numbers discarded: ${wrongAfter}`, discardedWrk: wrk };
  }
  return { wrk };
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--rss')) {
    await require('./rss').main(argv.filter((a) => a !== '--rss'));
    return;
  }
  let opts;
  try {
    opts = lib.parseArgs(argv, OPTIONS);
  } catch (err) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  opts = { duration: 10, warmup: 2, connections: 64, threads: 1, ...opts };
  opts.duration = Math.max(1, Math.round(opts.duration));
  opts.warmup = Math.round(opts.warmup);

  let servers;
  let routes;
  try {
    servers = lib.pickServers(opts.only);
    routes = lib.pickRoutes(opts.routes);
  } catch (err) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }

  const machine = lib.machineInfo(lib.checkWrk());
  const command = `node bench/run.js${argv.length ? ' ' + argv.join(' ') : ''}`;

  // Prepare every server once (the ceiling may need a cargo build), unless none of the chosen
  // routes uses it (scenario routes such as stack leave node:http and the ceiling out).
  const prepared = new Map();
  for (const server of servers) {
    const used = routes.some((r) => !r.servers || typeof r.servers[server.name] === 'string');
    if (!used) {
      prepared.set(server.name, { ok: false, reason: 'not used by the chosen routes' });
      continue;
    }
    const p = server.prepare();
    if (!p.ok) lib.log(`${server.label}: ${p.reason}`);
    prepared.set(server.name, p);
  }

  // Route-major order: all servers on one route back to back, so each table compares numbers
  // taken minutes apart at most, even if the machine's background load drifts.
  const results = new Map();
  const started = Date.now();
  for (const route of routes) {
    const rows = new Map();
    results.set(route.name, rows);
    for (const server of servers) {
      const p = lib.commandFor(route, server, prepared.get(server.name));
      if (p.na) {
        rows.set(server.name, { na: p.reason });
        continue;
      }
      if (!p.ok) {
        rows.set(server.name, { problem: p.reason });
        continue;
      }
      lib.log(`${route.title}: ${server.label} ...`);
      const row = await measure(server, p, route, opts);
      rows.set(server.name, row);
      if (row.wrk) {
        lib.log(`  ${fmtInt(row.wrk.rps)} req/s, p99 ${fmtMs(row.wrk.latencyMs.p99)}`);
      } else {
        lib.log(`  ${row.problem}`);
      }
    }
  }

  // Report.
  const lines = [];
  lines.push(`## Benchmark: ${new Date(started).toISOString()}`, '');
  lines.push(`- Command: \`${command}\``);
  lines.push(
    `- Load: \`wrk -t${opts.threads} -c${opts.connections} -d${opts.duration}s --latency\` per route and server, ` +
      `after ${opts.warmup} s of warm-up, each server in a fresh process`,
  );
  lines.push(`- Machine: ${machine.nproc} CPUs (nproc), ${machine.cpu}, ${machine.os}, load average at start ${machine.loadavg.join(' ')}`);
  lines.push(
    `- Software: Node ${machine.node}, Express ${machine.express}, Fastify ${machine.fastify}, ${machine.wrk}` +
      (routes.some((r) => r.name === 'stack')
        ? `, cookie-parser ${machine.cookieParser}, cors ${machine.cors}, helmet ${machine.helmet}`
        : '') +
      (machine.commit ? `, xypriss commit ${machine.commit}` : ''),
  );
  lines.push('');
  for (const route of routes) lines.push(routeTable(route, servers, results.get(route.name)));
  if (servers.some((s) => s.name === 'xypriss')) lines.push(summaryTable(routes, results));
  process.stdout.write(lines.join('\n') + '\n');

  // Full results as JSON.
  const json = {
    command,
    machine,
    options: opts,
    routes: routes.map((r) => ({ name: r.name, title: r.title, method: r.method, path: r.path, headers: r.headers })),
    results: Object.fromEntries(
      routes.map((route) => [
        route.name,
        Object.fromEntries(servers.map((s) => [s.name, { label: s.label, ...results.get(route.name).get(s.name) }])),
      ]),
    ),
  };
  fs.mkdirSync(lib.RESULTS_DIR, { recursive: true });
  const file = path.join(lib.RESULTS_DIR, 'latest.json');
  fs.writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  lib.log(`\nfull results: ${path.relative(process.cwd(), file)}`);
}

main().catch((err) => {
  console.error(err.stack || err.message);
  process.exit(1);
});
