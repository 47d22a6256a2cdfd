'use strict';
// Bench app "production stack": helmet, cors, a rate limit, static files, then a JSON router, with
// the npm middleware an Express user installs. RATE_LIMIT sets the limit per client per hour (the
// 429 scenario sets it to 1); otherwise it is high enough never to trigger.
// xypriss-prod.js is this file with xypriss's own helmet, cors and rateLimit required instead.
const express = require('express');
const helmet = require('helmet');
const cors = require('cors');
const { rateLimit } = require('express-rate-limit');

const app = express();

app.use(helmet());
app.use(cors());
app.use(rateLimit({ windowMs: 60 * 60 * 1000, limit: Number(process.env.RATE_LIMIT || 1e9), standardHeaders: 'draft-8', legacyHeaders: false }));
app.use(express.static(process.env.BENCH_STATIC_DIR));

const api = express.Router();
api.get('/json', (req, res) => {
  res.json({ hello: 'world' });
});
app.use('/api', api);

require('./listen')(app, express);
