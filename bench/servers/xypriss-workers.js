'use strict';
// Bench app: bench/servers/xypriss.js's routes on WORKERS worker threads behind the one listener
// (app.listen({ workers })). Each worker thread announces its OS thread id (`JS_THREADS <tid>`),
// so the harness counts its CPU time as JavaScript's where Node does not name it WorkerThread
// (Node 20).
const { isMainThread } = require('node:worker_threads');
const express = require('../..');
const { osThreadId } = require('../../binding/index.js');

if (!isMainThread) console.log(`JS_THREADS ${osThreadId()}`);

const app = express();

app.get('/json', (req, res) => {
  res.json({ hello: 'world' });
});

app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});

app.post('/echo', express.json(), (req, res) => {
  res.json(req.body);
});

const server = app.listen({ port: Number(process.env.PORT || 0), workers: Number(process.env.WORKERS || 1) }, (err) => {
  if (err) throw err;
  console.log(`LISTENING ${server.address().port}`);
});

if (isMainThread) {
  const printStatsAndExit = () => {
    process.stdout.write(`STATS ${JSON.stringify(express.engineStats())}\n`, () => process.exit(0));
  };
  process.once('SIGTERM', printStatsAndExit);
  process.once('SIGINT', printStatsAndExit);
}
