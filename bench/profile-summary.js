#!/usr/bin/env node
'use strict';
// Summarises a V8 .cpuprofile (`node --cpu-prof`): where the sampled time went, by function
// (self time) and by function with what it calls (total time), as a share of the busy samples.
//
//   node bench/profile-summary.js CPU.*.cpuprofile [--top 30] [--filter text]
//
// (idle) and (program) samples are counted apart: the shares are of the samples that ran JS or
// native code called from JS. `--filter` keeps rows whose name or location contains the text.

const fs = require('node:fs');
const path = require('node:path');

function parse(argv) {
  const out = { files: [], top: 30, filter: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') out.top = Number(argv[++i]);
    else if (argv[i] === '--filter') out.filter = argv[++i];
    else out.files.push(argv[i]);
  }
  return out;
}

function label(node) {
  const f = node.callFrame;
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${path.basename(f.url)}:${f.lineNumber + 1}`;
}

function summarise(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) || 0) + 1);
  const self = new Map();
  const total = new Map();
  let busy = 0;
  const special = { '(idle)': 0, '(program)': 0, '(garbage collector)': 0 };
  for (const [id, count] of hits) {
    const node = byId.get(id);
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') {
      special[name] += count;
      continue;
    }
    if (name === '(garbage collector)') special[name] += count;
    busy += count;
    const key = label(node);
    self.set(key, (self.get(key) || 0) + count);
    // each function counted once per sample, however often it recurses
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = label(byId.get(at));
      if (k === '(root)' || seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) || 0) + count);
    }
  }
  return { self, total, busy, special, samples: profile.samples.length, durationUs: profile.endTime - profile.startTime };
}

function table(title, map, busy, top, filter) {
  const rows = [...map].filter(([k]) => !filter || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = [`${title}`, '| share of busy | function |', '|--:|---|'];
  for (const [k, n] of rows) lines.push(`| ${((100 * n) / busy).toFixed(1)} % | ${k.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

const args = parse(process.argv.slice(2));
if (args.files.length === 0) {
  console.error('usage: node bench/profile-summary.js FILE.cpuprofile [--top N] [--filter TEXT]');
  process.exit(2);
}
for (const file of args.files) {
  const s = summarise(JSON.parse(fs.readFileSync(file, 'utf8')));
  const pct = (n) => `${((100 * n) / s.samples).toFixed(1)} %`;
  console.log(`## ${path.basename(file)}`)
  console.log(
    `${s.samples} samples over ${(s.durationUs / 1e6).toFixed(1)} s: busy ${pct(s.busy)}, idle ${pct(s.special['(idle)'])}, ` +
      `(program) ${pct(s.special['(program)'])}, of busy GC ${((100 * s.special['(garbage collector)']) / s.busy).toFixed(1)} %\n`,
  );
  console.log(table('### Self time', s.self, s.busy, args.top, args.filter));
  console.log();
  console.log(table('### Total time (with callees)', s.total, s.busy, args.top, args.filter));
  console.log();
}
