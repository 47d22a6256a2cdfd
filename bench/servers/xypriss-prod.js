'use strict';
// Bench app "production stack": helmet, cors, a rate limit, static files, then a JSON router, with
// xypriss's own helmet, cors and rateLimit (the same options as the npm middleware in
// express-prod.js, which the engine runs natively at the top of the app). RATE_LIMIT sets the
// limit per client per hour (the 429 scenario sets it to 1); otherwise it is high enough never to
// trigger. Apart from the require lines it is express-prod.js.
const express = require('../..');
const { helmet, cors, rateLimit } = express;

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
