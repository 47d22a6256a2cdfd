'use strict';
// Bench app, written the way an Express 5 user writes it.
// bench/servers/express.js and xypriss.js are identical except for the require line; keep them in sync.
const express = require('express');

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

require('./listen')(app, express);
