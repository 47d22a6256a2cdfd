'use strict';
// Bench app "static files only" on Fastify 5 with @fastify/static over bench/static.
const path = require('node:path');
const fastify = require('fastify')();

fastify.register(require('@fastify/static'), { root: path.resolve(process.env.BENCH_STATIC_DIR) });

fastify.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }, (err) => {
  if (err) throw err;
  console.log(`LISTENING ${fastify.server.address().port}`);
});
