'use strict';
// Bench app on Fastify 5 with default settings (no logger, no response schemas).
const fastify = require('fastify')();

fastify.get('/json', (request, reply) => {
  reply.send({ hello: 'world' });
});

fastify.get('/users/:id', (request, reply) => {
  reply.send({ id: request.params.id });
});

fastify.post('/echo', (request, reply) => {
  reply.send(request.body);
});

fastify.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }, (err) => {
  if (err) throw err;
  console.log(`LISTENING ${fastify.server.address().port}`);
});
