'use strict';
// Bench app "static files only": express.static over bench/static.
// bench/servers/express-static.js and xypriss-static.js are identical except for the require line.
const express = require('express');

const app = express();
app.use(express.static(process.env.BENCH_STATIC_DIR));

require('./listen')(app, express);
