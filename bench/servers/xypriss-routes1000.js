'use strict';
// Bench app "1,000 routes" (ultimate-express's routes-1000 scenario): 1,000 static routes
// GET /route0 ... /route999 registered with app.get; the harness hits the last one.
// bench/servers/express-routes1000.js and xypriss-routes1000.js are identical except for the require line; keep them in sync.
const express = require('../..');

const app = express();

for (let i = 0; i < 1000; i++) {
  app.get(`/route${i}`, (req, res) => {
    res.send(`route ${i}`);
  });
}

require('./listen')(app, express);
