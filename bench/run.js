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
  --rounds N        measure every server N times per route and report the medians (default 3)
  --interleave      rounds go over all routes in turn (round 1 of every route, then round 2...),
                    so that routes compared with each other (a 429 with a 404) share the drift
  --node PATH       the Node binary that runs the Node servers (default: the one running this)
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
  rounds: 'number',
  interleave: 'boolean',
  node: 'string',
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

function fmtUs(us) {
  return us == null ? '—' : us.toFixed(1);
}

function routeTable(route, servers, rows) {
  const x = rows.get('xypriss');
  const xRps = x && x.wrk ? x.wrk.rps : null;
  const out = [];
  out.push(`### ${route.title}`, '');
  out.push('| server | req/s | p99 | CPU µs/req, all threads | CPU µs/req, JS thread | non-2xx | socket errors | xypriss ÷ this |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const server of servers) {
    const row = rows.get(server.name);
    if (!row) continue;
    if (row.na) {
      out.push(`| ${server.label} | ${cell(row.na)} | | | | | | |`);
      continue;
    }
    if (!row.wrk) {
      out.push(`| ${server.label} | ${cell(row.problem || 'not run')} | | | | | | |`);
      continue;
    }
    const w = row.wrk;
    let ratio = server.name === 'xypriss' ? '1.00×' : fmtRatio(xRps, w.rps);
    if (server.name === 'ceiling' && xRps) ratio += ` (${((100 * xRps) / w.rps).toFixed(0)} % of ceiling)`;
    const non2xx = route.expectErrorStatus ? `${fmtInt(w.non2xx)} (expected)` : fmtInt(w.non2xx);
    const js = row.cpu && server.runsJs ? fmtUs(row.cpu.jsUs) : '—';
    out.push(
      `| ${server.label} | ${fmtInt(w.rps)} | ${fmtMs(w.latencyMs.p99)} | ${fmtUs(row.cpu && row.cpu.allUs)} | ${js} | ${non2xx} | ${fmtSocketErrors(w.socketErrors)} | ${ratio} |`,
    );
  }
  const rounds = [...rows.values()].find((row) => row.rounds)?.rounds;
  if (rounds && rounds.length > 1) out.push('', `Medians of ${rounds.length} rounds; req/s per round: ${servers.filter((s) => rows.get(s.name)?.rounds).map((s) => `${s.label} ${rows.get(s.name).rounds.map((r) => (r.wrk ? fmtInt(r.wrk.rps) : '×')).join(' / ')}`).join('; ')}.`);
  if (x && x.cpu && Object.keys(x.cpu.others).length) {
    out.push('', `xypriss CPU µs/req by thread: JS ${fmtUs(x.cpu.jsUs)}, ${Object.entries(x.cpu.others).sort((a, b) => b[1] - a[1]).map(([name, us]) => `${name} ${fmtUs(us)}`).join(', ')}.`);
  }
  if (x && x.stats) out.push('', `xypriss engine: ${describeStats(x.stats)}.`);
  out.push('');
  return out.join('\n');
}

// The native 429 and preflight against the bare app's native 404 (#12's bound: +20 % CPU).
function nativeAnswersLine(results) {
  const cpu = (route) => results.get(route)?.get('xypriss')?.cpu?.allUs;
  const base = cpu('404');
  const parts = [
    ['prod-429', 'the 429'],
    ['prod-preflight', 'the preflight'],
  ]
    .filter(([route]) => base && cpu(route))
    .map(([route, label]) => `${label} ${fmtUs(cpu(route))} µs (${((cpu(route) / base - 1) * 100).toFixed(0)} %)`);
  if (parts.length === 0) return '';
  return `Answered without JS, CPU per request against the bare app's native 404 (${fmtUs(base)} µs): ${parts.join(', ')}.\n`;
}

function summaryTable(routes, results) {
  const others = [
    ['node-http', 'xypriss ÷ node:http'],
    ['express', 'xypriss ÷ Express'],
    ['fastify', 'xypriss ÷ Fastify'],
    ['nginx', 'xypriss ÷ nginx'],
    ['ceiling', 'xypriss ÷ Rust ceiling'],
  ].filter(([name]) => routes.some((route) => results.get(route.name).has(name)));
  const out = ['### Summary: xypriss req/s as a multiple of each server, and CPU per request', ''];
  out.push(`| route | ${others.map(([, t]) => t).join(' | ')} | CPU µs/req (all / JS thread): xypriss | node:http | Express | Fastify |`);
  out.push(`|---|${others.map(() => '--:').join('|')}|--:|--:|--:|--:|`);
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
      if (!row) return '';
      return row.na ? 'n/a' : fmtRatio(rps('xypriss'), rps(name));
    };
    const cpu = (name) => {
      const row = rows.get(name);
      return row && row.cpu ? `${fmtUs(row.cpu.allUs)} / ${fmtUs(row.cpu.jsUs)}` : '—';
    };
    out.push(`| ${route.title} | ${others.map(([name]) => ratio(name)).join(' | ')} | ${cpu('xypriss')} | ${cpu('node-http')} | ${cpu('express')} | ${cpu('fastify')} |`);
  }
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// One measurement: fresh server process, verify, warm up, measure, stop (and collect STATS).

async function measure(server, prepared, route, opts) {
  let handle;
  try {
    handle = await lib.startServer(server, prepared, route.env);
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
  const announced = new Set(
    handle.lines.filter((l) => l.startsWith('JS_THREADS ')).flatMap((l) => l.slice(11).split(',').map(Number)),
  );
  const before = lib.threadTimes(handle.pid);
  const wrk = await lib.runWrk({ ...wrkOpts, seconds: opts.duration });
  const after = lib.threadTimes(handle.pid);
  if (handle.exited) return { problem: `during the run: ${lib.exitReason(handle)}` };
  if (wrk.requests === 0) return { problem: 'no request completed during the measured run', discardedWrk: wrk };
  const cpu = lib.cpuPerRequest(handle.pid, before, after, wrk.requests, announced);

  // Answering correctly when idle is not enough: check again after the load.
  const wrongAfter = await lib.verify(server, handle.port, route);
  if (wrongAfter) {
    // Kept in latest.json for debugging, never reported.
    return { problem: `WRONG ANSWER after the load, numbers discarded: ${wrongAfter}`, discardedWrk: wrk };
  }
  return { wrk, cpu };
}

function median(values) {
  const sorted = values.filter((v) => v != null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// One row from several rounds: the median of each figure (each taken separately), the rounds kept.
function combineRounds(rounds) {
  const measured = rounds.filter((r) => r.wrk);
  if (measured.length === 0) return { ...rounds[rounds.length - 1], rounds };
  const pick = (get) => median(measured.map(get));
  const wrk = {
    ...measured[0].wrk,
    rps: pick((r) => r.wrk.rps),
    requests: pick((r) => r.wrk.requests),
    non2xx: pick((r) => r.wrk.non2xx),
    latencyMs: { avg: pick((r) => r.wrk.latencyMs.avg), p50: pick((r) => r.wrk.latencyMs.p50), p99: pick((r) => r.wrk.latencyMs.p99) },
    socketErrors: Object.fromEntries(Object.keys(measured[0].wrk.socketErrors).map((k) => [k, measured.reduce((sum, r) => sum + r.wrk.socketErrors[k], 0)])),
  };
  let cpu = null;
  const withCpu = measured.filter((r) => r.cpu);
  if (withCpu.length) {
    const names = new Set(withCpu.flatMap((r) => Object.keys(r.cpu.others)));
    cpu = {
      allUs: median(withCpu.map((r) => r.cpu.allUs)),
      jsUs: median(withCpu.map((r) => r.cpu.jsUs)),
      others: Object.fromEntries([...names].map((n) => [n, median(withCpu.map((r) => r.cpu.others[n] ?? 0))])),
    };
  }
  const problems = rounds.filter((r) => !r.wrk).map((r) => r.problem);
  return { wrk, cpu, stats: measured[measured.length - 1].stats, rounds, problems };
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
  opts = { duration: 10, warmup: 2, connections: 64, threads: 1, rounds: 3, ...opts };
  opts.rounds = Math.max(1, Math.round(opts.rounds));
  let nodeVersion = process.version;
  if (opts.node) {
    try {
      nodeVersion = lib.setNodeBinary(opts.node);
    } catch (err) {
      console.error(err.message);
      process.exit(2);
    }
  }
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

  const machine = { ...lib.machineInfo(lib.checkWrk()), node: nodeVersion };
  const command = `node bench/run.js${argv.length ? ' ' + argv.join(' ') : ''}`;

  // Prepare every server once (the ceiling may need a cargo build), unless none of the chosen
  // routes uses it (scenario routes such as stack leave node:http and the ceiling out).
  const prepared = new Map();
  for (const server of servers) {
    const used = routes.some((r) => (!r.servers && !server.scenarioOnly) || (r.servers && typeof r.servers[server.name] === 'string'));
    if (!used) {
      prepared.set(server.name, { ok: false, reason: 'not used by the chosen routes' });
      continue;
    }
    const p = server.prepare();
    if (!p.ok) lib.log(`${server.label}: ${p.reason}`);
    prepared.set(server.name, p);
  }

  // Route-major order: all servers on one route back to back, so each table compares numbers
  // taken minutes apart at most, even if the machine's background load drifts. With
  // --interleave, round-major: every route's round N before any route's round N + 1.
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
      rows.set(server.name, { rounds: [] });
    }
  }
  // Rounds interleave the servers, so a drift of the machine's load spreads over all of them.
  const measureRound = async (route, round) => {
    const rows = results.get(route.name);
    for (const server of servers) {
      const row = rows.get(server.name);
      if (!row.rounds) continue;
      const p = lib.commandFor(route, server, prepared.get(server.name));
      lib.log(`${route.title}: ${server.label}${opts.rounds > 1 ? ` (round ${round}/${opts.rounds})` : ''} ...`);
      const result = await measure(server, p, route, opts);
      row.rounds.push(result);
      if (result.wrk) {
        const cpu = result.cpu ? `, CPU ${fmtUs(result.cpu.allUs)} µs/req (JS thread ${fmtUs(result.cpu.jsUs)})` : '';
        lib.log(`  ${fmtInt(result.wrk.rps)} req/s, p99 ${fmtMs(result.wrk.latencyMs.p99)}${cpu}`);
      } else {
        lib.log(`  ${result.problem}`);
      }
    }
  };
  if (opts.interleave) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const route of routes) await measureRound(route, round);
    }
  } else {
    for (const route of routes) {
      for (let round = 1; round <= opts.rounds; round++) await measureRound(route, round);
    }
  }
  for (const route of routes) {
    const rows = results.get(route.name);
    for (const server of servers) {
      const row = rows.get(server.name);
      if (row.rounds) rows.set(server.name, combineRounds(row.rounds));
    }
  }

  // Report.
  const lines = [];
  lines.push(`## Benchmark: ${new Date(started).toISOString()}`, '');
  lines.push(`- Command: \`${command}\``);
  lines.push(
    `- Load: \`wrk -t${opts.threads} -c${opts.connections} -d${opts.duration}s --latency\` per route and server, ` +
      `after ${opts.warmup} s of warm-up, each server in a fresh process; ${opts.rounds} round(s), medians reported; ` +
      `CPU per request = user + system time of the server's threads (\`/proc/<pid>/task/*/stat\`) over the measured run ÷ requests`,
  );
  lines.push(`- Machine: ${machine.nproc} CPUs (nproc), ${machine.cpu}, ${machine.os}, load average at start ${machine.loadavg.join(' ')}`);
  lines.push(
    `- Software: Node ${machine.node}, Express ${machine.express}, Fastify ${machine.fastify}, ${machine.wrk}` +
      (routes.some((r) => r.name === 'stack')
        ? `, cookie-parser ${machine.cookieParser}, cors ${machine.cors}, helmet ${machine.helmet}`
        : '') +
      (prepared.get('nginx')?.version ? `, ${prepared.get('nginx').version}` : '') +
      (machine.commit ? `, xypriss commit ${machine.commit}` : ''),
  );
  lines.push('');
  for (const route of routes) lines.push(routeTable(route, servers, results.get(route.name)));
  if (servers.some((s) => s.name === 'xypriss')) {
    lines.push(summaryTable(routes, results));
    lines.push(nativeAnswersLine(results));
  }
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
