'use strict';
// Bench app, written the way an Express 5 user writes it.
// bench/servers/express.js and xypriss.js are identical except for the require line; keep them in sync.
const express = require('../..');

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

const server = app.listen(Number(process.env.PORT || 0), (err) => {
  if (err) throw err;
  console.log(`LISTENING ${server.address().port}`);
});

// Bench hook: print the engine's counters on shutdown if the framework has them
// (xypriss exports engineStats(); Express does not, so this is skipped there).
if (typeof express.engineStats === 'function') {
  const printStatsAndExit = () => {
    process.stdout.write(`STATS ${JSON.stringify(express.engineStats())}\n`, () => process.exit(0));
  };
  process.once('SIGTERM', printStatsAndExit);
  process.once('SIGINT', printStatsAndExit);
}
