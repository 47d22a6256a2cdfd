'use strict';
// Bench app "typical stack": express.json() + cookie-parser + cors + helmet in front of a Router
// of 50 routes mounted at /api (GET /api/r0 ... /api/r49); the harness hits the last one.
// bench/servers/express-stack.js and xypriss-stack.js are identical except for the require line; keep them in sync.
const express = require('express');
const cookieParser = require('cookie-parser');
const cors = require('cors');
const helmet = require('helmet');

const app = express();

app.use(helmet());
app.use(cors());
app.use(express.json());
app.use(cookieParser());

const api = express.Router();
for (let i = 0; i < 50; i++) {
  api.get(`/r${i}`, (req, res) => {
    res.json({ route: i });
  });
}
app.use('/api', api);

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
