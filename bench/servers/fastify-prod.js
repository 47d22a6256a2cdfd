'use strict';
// Bench app "production stack" on Fastify 5 with the plugins its users install: @fastify/helmet,
// @fastify/cors, @fastify/rate-limit and @fastify/static, then a JSON route. RATE_LIMIT as in
// express-prod.js.
const path = require('node:path');
const fastify = require('fastify')();

// Registered before the routes and awaited: @fastify/rate-limit hooks routes declared after it loads.
async function main() {
  await fastify.register(require('@fastify/helmet'));
  await fastify.register(require('@fastify/cors'));
  await fastify.register(require('@fastify/rate-limit'), { max: Number(process.env.RATE_LIMIT || 1e9), timeWindow: 60 * 60 * 1000 });
  await fastify.register(require('@fastify/static'), { root: path.resolve(process.env.BENCH_STATIC_DIR) });

  fastify.get('/api/json', (request, reply) => {
    reply.send({ hello: 'world' });
  });

  await fastify.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' });
  console.log(`LISTENING ${fastify.server.address().port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
