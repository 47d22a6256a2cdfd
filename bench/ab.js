#!/usr/bin/env node
'use strict';
// node bench/ab.js: two (or more) builds of xypriss side by side, rounds interleaved, so a change
// is judged against what it changes in one run on a machine whose load moves. Each build is a
// directory holding a built xypriss (package.json, dist/, binding/ with its .node), such as a
// checkout of main after `npm run build`; `node-http` adds the node:http server for reference.
// Reports medians of req/s and CPU µs per request (all threads, the JS thread, the others by name)
// and the engine's requests per JS wake-up. See bench/README.md.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('./lib');

const USAGE = `usage: node bench/ab.js [options] NAME=DIR [NAME=DIR ...] [node-http]

  --routes a,b      routes (default json): ${lib.ROUTES.filter((r) => !r.servers).map((r) => r.name).join(', ')}
  --rounds N        measurements per build and route, interleaved (default 5)
  --duration N      measured seconds per measurement (default 5)
  --warmup N        seconds of load before each measurement (default 1)
  --connections N   wrk connections (default 64)
  --node PATH       the Node binary that runs the servers (default: the one running this)

  NAME=DIR          a built xypriss in DIR (e.g. main=../main-build, this=.)
`;

const OPTIONS = { routes: 'string', rounds: 'number', duration: 'number', warmup: 'number', connections: 'number', node: 'string', help: 'boolean' };

/** A directory whose bench/servers/*.js load the build in `root` (nothing is written there). */
function serverFor(root) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xypriss-ab-'));
  for (const entry of ['package.json', 'dist', 'binding', 'node_modules']) {
    const target = path.join(root, entry);
    if (!fs.existsSync(target)) throw new Error(`${root} has no ${entry}: not a built xypriss`);
    fs.symlinkSync(target, path.join(dir, entry));
  }
  fs.mkdirSync(path.join(dir, 'bench', 'servers'), { recursive: true });
  for (const file of fs.readdirSync(path.join(__dirname, 'servers'))) {
    fs.copyFileSync(path.join(__dirname, 'servers', file), path.join(dir, 'bench', 'servers', file));
  }
  return { dir, file: path.join(dir, 'bench', 'servers', 'xypriss.js') };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const fmt = (n, digits = 1) => (n == null || Number.isNaN(n) ? '—' : n.toFixed(digits));

async function measure(build, route, opts) {
  // a scenario route (the production stack, ...) has its own app file
  const file = route.servers ? path.join(path.dirname(build.file), route.servers.xypriss) : build.file;
  const prepared = { ok: true, command: opts.node, args: [file] };
  const handle = await lib.startServer({ name: build.name }, prepared, route.env);
  try {
    const wrong = await lib.verify({ name: build.xypriss ? 'xypriss' : 'node-http', expressLike: build.xypriss }, handle.port, route);
    if (wrong) throw new Error(`${build.name}: wrong answer on ${route.title}: ${wrong}`);
    const wrkOpts = { port: handle.port, route, connections: opts.connections, threads: 1 };
    if (opts.warmup > 0) await lib.runWrk({ ...wrkOpts, seconds: opts.warmup });
    const before = lib.threadTimes(handle.pid);
    const wrk = await lib.runWrk({ ...wrkOpts, seconds: opts.duration });
    const after = lib.threadTimes(handle.pid);
    const cpu = lib.cpuPerRequest(handle.pid, before, after, wrk.requests);
    return { rps: wrk.rps, p99: wrk.latencyMs.p99, cpu, handle };
  } finally {
    const stats = await lib.stopServer(handle);
    handle.stats = stats;
  }
}

async function main() {
  const argv = process.argv.slice(2);
  // options first, as `--name value` or `--name=value`; the builds after them
  const names = [];
  const flags = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) names.push(arg);
    else {
      flags.push(arg);
      const name = arg.slice(2).split('=')[0];
      if (!arg.includes('=') && OPTIONS[name] && OPTIONS[name] !== 'boolean') flags.push(argv[++i]);
    }
  }
  const opts = { routes: 'json', rounds: 5, duration: 5, warmup: 1, connections: 64, ...lib.parseArgs(flags, OPTIONS) };
  if (opts.help || names.length === 0) {
    process.stdout.write(USAGE);
    return;
  }
  opts.node = opts.node ? path.resolve(opts.node) : process.execPath;
  const nodeVersion = lib.setNodeBinary(opts.node);
  const builds = names.map((spec) => {
    if (spec === 'node-http') return { name: 'node-http', file: path.join(__dirname, 'servers', 'node-http.js'), xypriss: false };
    const eq = spec.indexOf('=');
    if (eq === -1) throw new Error(`"${spec}": expected NAME=DIR or node-http`);
    const server = serverFor(path.resolve(spec.slice(eq + 1)));
    return { name: spec.slice(0, eq), root: path.resolve(spec.slice(eq + 1)), ...server, xypriss: true };
  });
  // the shared routes, and the scenarios xypriss has an app file for (node:http is left out of those)
  const routes = lib.pickRoutes(opts.routes).filter((r) => !r.servers || typeof r.servers.xypriss === 'string');
  try {
    const out = [`## A/B: ${names.join(' vs ')} (Node ${nodeVersion}, wrk -t1 -c${opts.connections} -d${opts.duration}s, ${opts.rounds} rounds interleaved, medians)`, ''];
    out.push(`- Command: \`node bench/ab.js ${process.argv.slice(2).join(' ')}\``, `- Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`, '');
    for (const route of routes) {
      const results = new Map(builds.map((b) => [b.name, []]));
      for (let round = 0; round < opts.rounds; round++) {
        for (const build of builds) {
          if (route.servers && !build.xypriss) continue;
          const r = await measure(build, route, opts);
          const stats = r.handle.stats;
          r.perWake = stats && stats.wakeups ? stats.requests / stats.wakeups : undefined;
          results.get(build.name).push(r);
          lib.log(`${route.title} ${build.name} round ${round + 1}: ${Math.round(r.rps)} req/s, CPU ${fmt(r.cpu?.allUs)} µs/req (JS ${fmt(r.cpu?.jsUs)})${r.perWake ? `, ${fmt(r.perWake)} req/wake-up` : ''}`);
        }
      }
      out.push(`### ${route.title}`, '', '| build | req/s | p99 | CPU µs/req, all threads | JS thread | other threads | requests per JS wake-up |', '|---|--:|--:|--:|--:|---|--:|');
      for (const build of builds) {
        const rs = results.get(build.name);
        if (rs.length === 0) continue;
        const others = new Set(rs.flatMap((r) => Object.keys(r.cpu?.others ?? {})));
        const otherText = [...others].map((n) => `${n} ${fmt(median(rs.map((r) => r.cpu?.others[n] ?? 0)))}`).join(', ');
        const wakes = rs.map((r) => r.perWake).filter((w) => w !== undefined);
        out.push(
          `| ${build.name} | ${Math.round(median(rs.map((r) => r.rps))).toLocaleString('en-US')} | ${fmt(median(rs.map((r) => r.p99)), 2)} ms | ${fmt(median(rs.map((r) => r.cpu?.allUs)))} | ${fmt(median(rs.map((r) => r.cpu?.jsUs)))} | ${otherText || '—'} | ${wakes.length ? fmt(median(wakes)) : '—'} |`,
        );
      }
      out.push('');
    }
    process.stdout.write(out.join('\n'));
  } finally {
    for (const build of builds) if (build.dir) fs.rmSync(build.dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
