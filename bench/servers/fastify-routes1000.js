'use strict';
// Bench app "1,000 routes" on Fastify 5 (its own router, find-my-way), default settings:
// GET /route0 ... /route999, each answering the text "route N".
const fastify = require('fastify')();

for (let i = 0; i < 1000; i++) {
  fastify.get(`/route${i}`, (request, reply) => {
    reply.send(`route ${i}`);
  });
}

fastify.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }, (err) => {
  if (err) throw err;
  console.log(`LISTENING ${fastify.server.address().port}`);
});
