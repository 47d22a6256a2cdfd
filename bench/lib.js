'use strict';
// Shared pieces of the bench harness (run.js, rss.js): the server catalogue, the routes and their
// expected answers, starting/stopping servers, driving wrk and parsing its output.
// Progress goes to stderr; only results go to stdout.

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const BENCH_DIR = __dirname;
const ROOT = path.resolve(BENCH_DIR, '..');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const ECHO_BODY_FILE = path.join(BENCH_DIR, 'echo-body.json');
const POST_LUA = path.join(BENCH_DIR, 'post.lua');
const WRK = process.env.WRK || 'wrk';

const START_TIMEOUT_MS = 30_000;

// Child processes (servers, wrk) still running; killed if the harness exits early (error, Ctrl-C).
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(130)); // runs the 'exit' handler above
}
const STOP_TIMEOUT_MS = 5_000;

function log(...args) {
  console.error(...args);
}

// ---------------------------------------------------------------------------------------------
// Routes

const ECHO_BODY = fs.readFileSync(ECHO_BODY_FILE, 'utf8').trim();
const JSON_UTF8 = 'application/json; charset=utf-8';
const NOT_FOUND_PATH = '/nope/deep/path';

// Express 5's default 404 (finalhandler). xypriss must answer the same bytes and headers.
const EXPRESS_404_BODY =
  '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n' +
  `</head>\n<body>\n<pre>Cannot GET ${NOT_FOUND_PATH}</pre>\n</body>\n</html>\n`;

// Express's default weak ETag for a string body (the etag package, as used by res.send).
function expressEtag(body) {
  const hash = crypto.createHash('sha1').update(body, 'utf8').digest('base64').substring(0, 27);
  return `W/"${Buffer.byteLength(body).toString(16)}-${hash}"`;
}

// Headers Express sets that a drop-in replacement must set too (skipping them would be less work).
function expectHeaders(response, expected) {
  for (const [name, value] of Object.entries(expected)) {
    const got = response.headers[name];
    if (got !== value) return `header ${name}: ${JSON.stringify(got)}, expected ${JSON.stringify(value)} as Express sends`;
  }
  return null;
}

function expectJson(response, expectedBody, server) {
  if (response.status !== 200) return `status ${response.status}, expected 200`;
  const type = response.headers['content-type'];
  if (type !== JSON_UTF8) return `Content-Type ${JSON.stringify(type)}, expected "${JSON_UTF8}"`;
  if (response.body !== expectedBody) {
    return `body ${JSON.stringify(clip(response.body))}, expected ${JSON.stringify(expectedBody)}`;
  }
  if (server.expressLike) {
    return expectHeaders(response, { 'x-powered-by': 'Express', etag: expressEtag(expectedBody) });
  }
  return null;
}

// Expected answer of the "typical stack" route: helmet()'s default headers, taken from the installed
// helmet itself (so a helmet upgrade does not break the check), and cors()'s wildcard origin.
let helmetHeadersCache = null;
function helmetHeaders() {
  if (helmetHeadersCache) return helmetHeadersCache;
  const helmet = require(require.resolve('helmet', { paths: [ROOT] }));
  const set = {};
  const removed = [];
  const fakeRes = {
    setHeader: (name, value) => (set[name.toLowerCase()] = String(value)),
    removeHeader: (name) => removed.push(name.toLowerCase()),
  };
  helmet()({ headers: {} }, fakeRes, () => {});
  helmetHeadersCache = { set, removed };
  return helmetHeadersCache;
}

function expectStack(res, server) {
  const wrong = expectJson(res, '{"route":49}', { ...server, expressLike: false });
  if (wrong) return wrong;
  const { set, removed } = helmetHeaders();
  for (const [name, value] of Object.entries(set)) {
    if (res.headers[name] !== value) {
      return `header ${name}: ${JSON.stringify(res.headers[name])}, expected ${JSON.stringify(value)} (helmet)`;
    }
  }
  for (const name of removed) {
    if (name in res.headers) return `header ${name}: ${JSON.stringify(res.headers[name])}, helmet removes it`;
  }
  if (res.headers['access-control-allow-origin'] !== '*') {
    return `header access-control-allow-origin: ${JSON.stringify(res.headers['access-control-allow-origin'])}, expected "*" (cors)`;
  }
  if (server.expressLike) return expectHeaders(res, { etag: expressEtag('{"route":49}') });
  return null;
}

// res.send('route 999'): Express answers text/html (its default for a string) with an ETag and
// X-Powered-By; Fastify answers text/plain. Only the status and body are common to all.
function expectRoute999(res, server) {
  const body = 'route 999';
  if (res.status !== 200) return `status ${res.status}, expected 200`;
  if (res.body !== body) return `body ${JSON.stringify(clip(res.body))}, expected ${JSON.stringify(body)}`;
  if (server.expressLike) {
    return expectHeaders(res, {
      'content-type': 'text/html; charset=utf-8',
      'x-powered-by': 'Express',
      etag: expressEtag(body),
    });
  }
  return null;
}

// Routes with `servers` run an app of their own per server (bench/servers/<file>); a server missing
// from that map, or mapped to { na }, is not part of the scenario and reported as "n/a".
const NOT_IN_SCENARIO = { na: 'n/a (not part of this scenario)' };

// The production-shaped scenario: helmet, CORS, a rate limit, static files and a JSON router, on
// each framework with what its users install (Express: the npm middleware; Fastify: its plugins;
// xypriss: its own). bench/servers/<server>-prod.js.
const STATIC_DIR = path.join(BENCH_DIR, 'static');
const STATIC_FILE = 'file-2k.txt';
const STATIC_BODY = fs.readFileSync(path.join(STATIC_DIR, STATIC_FILE), 'utf8');

function expectStaticFile(res) {
  if (res.status !== 200) return `status ${res.status}, expected 200`;
  if (res.body !== STATIC_BODY) return `body of ${res.body.length} bytes differs from ${STATIC_FILE}`;
  if (!/^text\/plain/.test(res.headers['content-type'] || '')) return `Content-Type ${JSON.stringify(res.headers['content-type'])}, expected text/plain`;
  return null;
}

// What every server's stack must have added: helmet's headers (as the installed helmet computes
// them; @fastify/helmet wraps the same helmet), the CORS origin, and the rate limiter's counters.
function expectThroughStack(res, server, inner) {
  const wrong = inner();
  if (wrong) return wrong;
  const { set } = helmetHeaders();
  for (const [name, value] of Object.entries(set)) {
    if (res.headers[name] !== value) return `header ${name}: ${JSON.stringify(res.headers[name])}, expected ${JSON.stringify(value)} (helmet)`;
  }
  if (res.headers['access-control-allow-origin'] !== '*') {
    return `access-control-allow-origin: ${JSON.stringify(res.headers['access-control-allow-origin'])}, expected "*" (cors)`;
  }
  const limited = Object.keys(res.headers).some((name) => /^(x-)?ratelimit/.test(name));
  if (!limited) return `no rate-limit header on ${server.label}'s answer: is the limiter in the stack?`;
  return null;
}

// Only xypriss runs an app on worker threads behind one listener.
const WORKERS_ONLY = { 'node-http': NOT_IN_SCENARIO, express: NOT_IN_SCENARIO, fastify: NOT_IN_SCENARIO, ceiling: NOT_IN_SCENARIO };

const PRODUCTION_STACK = {
  'node-http': NOT_IN_SCENARIO,
  express: 'express-prod.js',
  fastify: 'fastify-prod.js',
  xypriss: 'xypriss-prod.js',
  ceiling: NOT_IN_SCENARIO,
};


const ROUTES = [
  {
    name: 'json',
    title: 'GET /json',
    method: 'GET',
    path: '/json',
    check: (res, server) => expectJson(res, '{"hello":"world"}', server),
  },
  {
    name: 'param',
    title: 'GET /users/:id',
    method: 'GET',
    path: '/users/42',
    check: (res, server) => expectJson(res, '{"id":"42"}', server),
  },
  {
    name: 'echo',
    title: 'POST /echo (JSON body)',
    method: 'POST',
    path: '/echo',
    body: ECHO_BODY,
    lua: POST_LUA,
    check: (res, server) => expectJson(res, JSON.stringify(JSON.parse(ECHO_BODY)), server),
  },
  {
    name: '404',
    title: `GET ${NOT_FOUND_PATH} (default 404)`,
    method: 'GET',
    path: NOT_FOUND_PATH,
    expectErrorStatus: true, // every response is a 404, so wrk's "Non-2xx" count is expected
    check: (res, server) => {
      if (res.status !== 404) return `status ${res.status}, expected 404`;
      if (!server.expressLike) return null;
      if (res.body !== EXPRESS_404_BODY) {
        return `body ${JSON.stringify(clip(res.body))} differs from Express's default 404`;
      }
      return expectHeaders(res, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'none'",
        'x-content-type-options': 'nosniff',
      });
    },
  },
  // The JSON route on worker threads (app.listen({ workers })), beside `json` (no workers).
  ...[1, 2].map((workers) => ({
    name: `workers${workers}`,
    title: `GET /json, app.listen({ workers: ${workers} })`,
    method: 'GET',
    path: '/json',
    env: { WORKERS: String(workers) },
    servers: { ...WORKERS_ONLY, xypriss: 'xypriss-workers.js' },
    check: (res, server) => expectJson(res, '{"hello":"world"}', server),
  })),
  {
    name: 'stack',
    title: 'GET /api/r49 (typical stack: json + cookie-parser + cors + helmet + Router of 50)',
    method: 'GET',
    path: '/api/r49',
    // What a browser sends: a few cookies (so cookie-parser has work to do) and an Origin (cors).
    headers: { Cookie: 'sid=3f2a9c0e7b1d4e6a8c5b; theme=dark; lang=en-US', Origin: 'http://example.com' },
    servers: {
      'node-http': NOT_IN_SCENARIO,
      express: 'express-stack.js',
      fastify: { na: 'n/a: @fastify/cors, @fastify/helmet and @fastify/cookie are not installed' },
      xypriss: 'xypriss-stack.js',
      ceiling: NOT_IN_SCENARIO,
    },
    check: expectStack,
  },
  {
    name: 'routes1000',
    title: 'GET /route999 (1,000 routes registered with app.get)',
    method: 'GET',
    path: '/route999',
    servers: {
      'node-http': NOT_IN_SCENARIO,
      express: 'express-routes1000.js',
      fastify: 'fastify-routes1000.js',
      xypriss: 'xypriss-routes1000.js',
      ceiling: NOT_IN_SCENARIO,
    },
    check: expectRoute999,
  },
  {
    name: 'prod-json',
    title: 'GET /api/json through a production stack (helmet + cors + rate limit + static + router)',
    method: 'GET',
    path: '/api/json',
    headers: { Origin: 'http://example.com' },
    servers: PRODUCTION_STACK,
    check: (res, server) => expectThroughStack(res, server, () => expectJson(res, '{"hello":"world"}', { ...server, expressLike: false })),
  },
  {
    name: 'prod-static',
    title: `GET /${STATIC_FILE} (2 KB) through the production stack`,
    method: 'GET',
    path: `/${STATIC_FILE}`,
    headers: { Origin: 'http://example.com' },
    servers: PRODUCTION_STACK,
    check: (res, server) => expectThroughStack(res, server, () => expectStaticFile(res)),
  },
  {
    name: 'static',
    title: `GET /${STATIC_FILE} (2 KB), an app that serves static files only`,
    method: 'GET',
    path: `/${STATIC_FILE}`,
    servers: {
      'node-http': NOT_IN_SCENARIO,
      express: 'express-static.js',
      fastify: 'fastify-static.js',
      xypriss: 'xypriss-static.js',
      ceiling: NOT_IN_SCENARIO,
      nginx: 'nginx.js',
    },
    check: (res) => expectStaticFile(res),
  },
  {
    // The baseline of the two below: the same app's native 404, with the stack's headers.
    name: 'prod-404',
    title: `GET ${NOT_FOUND_PATH} (404) through the production stack`,
    method: 'GET',
    path: NOT_FOUND_PATH,
    headers: { Origin: 'http://example.com' },
    expectErrorStatus: true,
    servers: PRODUCTION_STACK,
    // finalhandler's 404 sets its own Content-Security-Policy: the other headers show the stack ran
    check: (res) => {
      if (res.status !== 404) return `status ${res.status}, expected 404`;
      if (res.headers['x-frame-options'] !== 'SAMEORIGIN') return 'no x-frame-options: is helmet in the stack?';
      if (res.headers['access-control-allow-origin'] !== '*') return 'no access-control-allow-origin: is cors in the stack?';
      if (!Object.keys(res.headers).some((name) => /^(x-)?ratelimit/.test(name))) return 'no rate-limit header: is the limiter in the stack?';
      return null;
    },
  },
  {
    name: 'prod-429',
    title: 'GET /api/json over the rate limit (429) through the production stack',
    method: 'GET',
    path: '/api/json',
    headers: { Origin: 'http://example.com' },
    // A limit of one request per hour: the check's first request uses it up, every later one is a 429.
    env: { RATE_LIMIT: '1' },
    prime: 1,
    expectErrorStatus: true,
    servers: PRODUCTION_STACK,
    check: (res) => (res.status === 429 ? null : `status ${res.status}, expected 429`),
  },
  {
    name: 'prod-preflight',
    title: 'OPTIONS /api/json, a CORS preflight through the production stack',
    method: 'OPTIONS',
    path: '/api/json',
    headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    lua: path.join(BENCH_DIR, 'options.lua'),
    servers: PRODUCTION_STACK,
    check: (res) => {
      if (res.status !== 204) return `status ${res.status}, expected 204`;
      if (res.headers['access-control-allow-origin'] !== '*') return `access-control-allow-origin: ${JSON.stringify(res.headers['access-control-allow-origin'])}, expected "*"`;
      if (!/POST/.test(res.headers['access-control-allow-methods'] || '')) return `access-control-allow-methods: ${JSON.stringify(res.headers['access-control-allow-methods'])}, expected POST among them`;
      return null;
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Servers

// The Node that runs the Node servers (`--node`); the harness itself may run on another.
let nodeBinary = process.execPath;
function setNodeBinary(file) {
  const probe = spawnSync(file, ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(`--node ${file}: cannot run it (${probe.error ? probe.error.message : probe.stderr.trim()})`);
  nodeBinary = path.resolve(file);
  return probe.stdout.trim();
}

function nodeServer(file) {
  return () => ({ ok: true, command: nodeBinary, args: [path.join(BENCH_DIR, 'servers', file)] });
}

function prepareXypriss() {
  const entry = path.join(ROOT, 'dist', 'index.cjs');
  if (!fs.existsSync(entry)) {
    return { ok: false, reason: 'skipped: dist/index.cjs is not built yet (npm run build)' };
  }
  return { ok: true, command: nodeBinary, args: [path.join(BENCH_DIR, 'servers', 'xypriss.js')] };
}

// The command that serves `route` on `server`, given what server.prepare() returned:
// the server's own app for the shared routes, the route's own app file for scenario routes,
// or { na } when the server is not part of the scenario.
function commandFor(route, server, prepared) {
  if (!route.servers) return server.scenarioOnly ? { ok: false, na: true, reason: NOT_IN_SCENARIO.na } : prepared;
  const entry = route.servers[server.name] || NOT_IN_SCENARIO;
  if (typeof entry !== 'string') return { ok: false, na: true, reason: entry.na };
  if (!prepared.ok) return prepared;
  return { ok: true, command: nodeBinary, args: [path.join(BENCH_DIR, 'servers', entry)] };
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'target') newest = Math.max(newest, newestMtime(full));
    } else {
      newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  }
  return newest;
}

function prepareCeiling() {
  if (process.env.CEILING_BIN) {
    const bin = path.resolve(process.env.CEILING_BIN);
    if (!fs.existsSync(bin)) return { ok: false, reason: `skipped: CEILING_BIN=${bin} does not exist` };
    return { ok: true, command: bin, args: [] };
  }
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(ROOT, 'target');
  const bin = path.join(targetDir, 'release', 'xypriss-bench-ceiling' + (process.platform === 'win32' ? '.exe' : ''));
  const stale = !fs.existsSync(bin) || fs.statSync(bin).mtimeMs < newestMtime(path.join(BENCH_DIR, 'ceiling'));
  if (stale) {
    // its own workspace (bench/ceiling/Cargo.toml), built into the root target dir
    log('building the Rust ceiling: cargo build --release --manifest-path bench/ceiling/Cargo.toml (fat LTO, takes a while)');
    const build = spawnSync('cargo', ['build', '--release', '--manifest-path', path.join(BENCH_DIR, 'ceiling', 'Cargo.toml'), '--target-dir', targetDir], {
      cwd: ROOT,
      stdio: ['ignore', process.stderr, process.stderr],
    });
    if (build.error || build.status !== 0) {
      const why = build.error ? build.error.message : `cargo exited with ${build.status}`;
      return { ok: false, reason: `skipped: could not build the ceiling (${why}; see cargo output above)` };
    }
  }
  return { ok: true, command: bin, args: [] };
}

const SERVERS = [
  { name: 'node-http', label: 'node:http', aliases: ['node', 'node:http', 'http'], prepare: nodeServer('node-http.js'), runsJs: true },
  { name: 'express', label: 'Express 5', aliases: [], prepare: nodeServer('express.js'), expressLike: true, runsJs: true },
  { name: 'fastify', label: 'Fastify 5', aliases: [], prepare: nodeServer('fastify.js'), runsJs: true },
  { name: 'xypriss', label: 'xypriss', aliases: [], prepare: prepareXypriss, expressLike: true, runsJs: true },
  { name: 'ceiling', label: 'Rust hyper (ceiling)', aliases: ['rust', 'hyper'], prepare: prepareCeiling },
  { name: 'nginx', label: 'nginx (1 worker, sendfile)', aliases: [], prepare: prepareNginx, scenarioOnly: true },
];

// nginx is the reference for static files where it is installed (Debian: nginx-light).
function prepareNginx() {
  const probe = spawnSync(process.env.NGINX || 'nginx', ['-v'], { encoding: 'utf8' });
  if (probe.error) return { ok: false, reason: `skipped: nginx not found (${probe.error.message})` };
  return { ok: true, version: (probe.stderr || probe.stdout).trim() };
}

function pickServers(list) {
  if (!list) return SERVERS;
  const wanted = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of wanted) {
    if (!SERVERS.some((s) => s.name === name || s.aliases.includes(name))) {
      throw new Error(`unknown server "${name}" (known: ${SERVERS.map((s) => s.name).join(', ')})`);
    }
  }
  return SERVERS.filter((s) => wanted.includes(s.name) || s.aliases.some((a) => wanted.includes(a)));
}

function pickRoutes(list) {
  if (!list) return ROUTES;
  const wanted = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const name of wanted) {
    if (!ROUTES.some((r) => r.name === name)) {
      throw new Error(`unknown route "${name}" (known: ${ROUTES.map((r) => r.name).join(', ')})`);
    }
  }
  return ROUTES.filter((r) => wanted.includes(r.name));
}

// A port that was free a moment ago. Servers also accept PORT=0, but then the harness would
// depend on every framework reporting the port it got; this keeps startup uniform.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Spawns a server and resolves once it printed `LISTENING <port>`.
// The returned handle collects stdout lines (for STATS) and the tail of stderr (for error messages).
async function startServer(server, prepared, env = {}) {
  const port = await freePort();
  const child = spawn(prepared.command, prepared.args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), BENCH_STATIC_DIR: STATIC_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  // `pid`: the process whose CPU is measured; a wrapper (nginx.js) names the real server with a
  // `PID <n>` line before `LISTENING`.
  const handle = { child, pid: child.pid, port: null, lines: [], stderr: '', exited: false, exitInfo: null };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    handle.stderr = (handle.stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      handle.exited = true;
      handle.exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  handle.exitedPromise = exited;
  const lines = readline.createInterface({ input: child.stdout });
  handle.closedPromise = new Promise((resolve) => lines.on('close', resolve));

  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no LISTENING line within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    lines.on('line', (line) => {
      handle.lines.push(line);
      const pid = /^PID (\d+)\s*$/.exec(line);
      if (pid) handle.pid = Number(pid[1]);
      const m = /^LISTENING (\d+)\s*$/.exec(line);
      if (m && handle.port === null) {
        clearTimeout(timer);
        handle.port = Number(m[1]);
        resolve();
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited (${handle.exitInfo}) before listening`));
    });
  });

  try {
    await listening;
  } catch (err) {
    await stopServer(handle);
    const why = errorSummary(handle.stderr);
    throw new Error(`${server.label} failed to start: ${err.message}${why ? ` — ${why}` : ''}`);
  }
  return handle;
}

// SIGTERM, wait (SIGKILL after a timeout), and return the parsed `STATS {...}` line if any.
async function stopServer(handle) {
  if (!handle.exited) {
    handle.child.kill('SIGTERM');
    const timer = setTimeout(() => handle.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await handle.exitedPromise;
    clearTimeout(timer);
  }
  await Promise.race([handle.closedPromise, sleep(1000)]);
  const statsLine = handle.lines.find((l) => l.startsWith('STATS '));
  if (!statsLine) return null;
  try {
    return JSON.parse(statsLine.slice('STATS '.length));
  } catch {
    return { unparsed: statsLine };
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

function request(port, route) {
  return new Promise((resolve, reject) => {
    const headers = { ...route.headers };
    if (route.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(route.body);
    }
    const req = http.request(
      { host: '127.0.0.1', port, method: route.method, path: route.path, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end(route.body);
  });
}

// Returns null when the server answers the route correctly, else a description of what is wrong.
async function verify(server, port, route) {
  let response;
  try {
    response = await request(port, route);
    for (let i = 0; i < (route.prime || 0); i++) response = await request(port, route);
  } catch (err) {
    return `request failed: ${err.message}`;
  }
  return route.check(response, server);
}

// ---------------------------------------------------------------------------------------------
// wrk

function checkWrk() {
  const probe = spawnSync(WRK, ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error(`wrk not found (${probe.error.message}); install wrk or set WRK=/path/to/wrk`);
  return (probe.stdout + probe.stderr).split('\n')[0].replace(/\s*Copyright.*$/, '').trim();
}

function runWrk({ port, route, seconds, connections, threads }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(route.headers || {})) args.push('-H', `${name}: ${value}`);
  if (route.lua) args.push('-s', route.lua);
  args.push(`http://127.0.0.1:${port}${route.path}`);
  return new Promise((resolve, reject) => {
    const child = spawn(WRK, args, {
      env: { ...process.env, BENCH_ECHO_BODY: ECHO_BODY_FILE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      live.delete(child);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${lastLines(err || out, 3)}`));
      try {
        resolve({ ...parseWrk(out), command: `wrk ${args.join(' ')}` });
      } catch (e) {
        reject(e);
      }
    });
  });
}

const TIME_UNITS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`cannot parse wrk time "${text}"`);
  return Number(m[1]) * TIME_UNITS[m[2]];
}

function parseWrk(text) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(text);
  if (!rps || !total) throw new Error(`cannot parse wrk output:\n${text}`);
  const latency = {};
  for (const m of text.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$/gm)) latency[`p${m[1]}`] = toMs(m[2]);
  const avg = /Latency\s+([\d.]+\w+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    rps: Number(rps[1]),
    requests: Number(total[1]),
    elapsedMs: toMs(total[2]),
    latencyMs: { avg: avg ? toMs(avg[1]) : null, ...latency },
    socketErrors: sock
      ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    raw: text,
  };
}

// ---------------------------------------------------------------------------------------------
// Machine and process info

function machineInfo(wrkVersion) {
  let nproc = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const np = spawnSync('nproc', { encoding: 'utf8' });
  if (!np.error && np.status === 0) nproc = Number(np.stdout.trim());
  const pkgVersion = (name) => {
    try {
      return require(path.join(ROOT, 'node_modules', name, 'package.json')).version;
    } catch {
      return null;
    }
  };
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return {
    nproc,
    cpu: os.cpus()[0] ? os.cpus()[0].model.trim() : 'unknown',
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    wrk: wrkVersion,
    express: pkgVersion('express'),
    fastify: pkgVersion('fastify'),
    cookieParser: pkgVersion('cookie-parser'),
    cors: pkgVersion('cors'),
    helmet: pkgVersion('helmet'),
    commit: git.status === 0 ? git.stdout.trim() : null,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    date: new Date().toISOString(),
  };
}

// Resident set size of a process in bytes (Linux: VmRSS from /proc/<pid>/status).
function readRss(pid, field = 'VmRSS') {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

// ---------------------------------------------------------------------------------------------
// CPU time per thread, from /proc/<pid>/task/*/stat (Linux)

const CLOCK_TICKS = (() => {
  const probe = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(probe.stdout);
  return probe.status === 0 && ticks > 0 ? ticks : 100;
})();

// tid -> { name, ticks } (user + system time) for every thread of the process, now.
function threadTimes(pid) {
  const out = new Map();
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the fields after it are space-separated.
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      out.set(Number(tid), { name, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return out;
}

// A thread that runs JavaScript: the main thread (tid = pid), a worker_threads thread (named
// WorkerThread from Node 22 on), or a thread the server named with a `JS_THREADS a,b` line.
function isJsThread(pid, tid, name, announced) {
  return tid === pid || name === 'WorkerThread' || announced.has(tid);
}

// CPU µs per request between two threadTimes() samples: all threads, the JS thread(s), and the
// busiest other threads by name.
function cpuPerRequest(pid, before, after, requests, announced = new Set()) {
  if (!requests || after.size === 0) return null;
  const usPerTick = 1e6 / CLOCK_TICKS;
  let all = 0;
  let js = 0;
  const byName = new Map();
  for (const [tid, now] of after) {
    const used = now.ticks - (before.get(tid)?.ticks ?? 0);
    all += used;
    if (isJsThread(pid, tid, now.name, announced)) js += used;
    else byName.set(now.name, (byName.get(now.name) ?? 0) + used);
  }
  const perRequest = (ticks) => (ticks * usPerTick) / requests;
  return {
    allUs: perRequest(all),
    jsUs: perRequest(js),
    others: Object.fromEntries([...byName].filter(([, t]) => t > 0).map(([name, t]) => [name, perRequest(t)])),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function clip(text, max = 200) {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// The most telling line of a crashed process's stderr: the first "...Error: ..." line if any.
function errorSummary(stderr) {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const error = lines.find((l) => /^(\w*Error|Error)\b.*:/.test(l) || /^thread '.*' panicked/.test(l));
  return error || lines.slice(-2).join(' | ');
}

function lastLines(text, n) {
  return text.trim().split('\n').slice(-n).join(' | ');
}

function parseArgs(argv, spec) {
  // spec: { name: 'number' | 'string' | 'boolean' }
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    let value;
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const name = arg.slice(2);
    const type = spec[name];
    if (!type) throw new Error(`unknown option "${arg}"`);
    if (type === 'boolean') {
      out[name] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
    }
    if (type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${arg} needs a non-negative number, got "${value}"`);
      out[name] = n;
    } else {
      out[name] = value;
    }
  }
  return out;
}

// Why a server stopped: its exit code or signal and the telling line of its stderr.
function exitReason(handle) {
  const why = errorSummary(handle.stderr);
  return `server exited (${handle.exitInfo})${why ? `: ${why}` : ''}`;
}

module.exports = {
  BENCH_DIR,
  cpuPerRequest,
  setNodeBinary,
  threadTimes,
  exitReason,
  ROOT,
  RESULTS_DIR,
  ROUTES,
  SERVERS,
  checkWrk,
  commandFor,
  log,
  machineInfo,
  parseArgs,
  pickRoutes,
  pickServers,
  readRss,
  runWrk,
  sleep,
  startServer,
  stopServer,
  verify,
};
