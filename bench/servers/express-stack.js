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

require('./listen')(app, express);
