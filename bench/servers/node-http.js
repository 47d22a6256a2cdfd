'use strict';
// Bench app on bare node:http: hand-written routing, JSON.stringify, no framework.
const http = require('node:http');

const BODY_LIMIT = 100 * 1024; // same default as express.json()

function sendJson(res, value) {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendText(res, status, text) {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function echo(req, res) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > BODY_LIMIT) {
      sendText(res, 413, 'Payload Too Large');
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    let value;
    try {
      value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      sendText(res, 400, 'Bad Request');
      return;
    }
    sendJson(res, value);
  });
}

const server = http.createServer((req, res) => {
  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);

  if (req.method === 'GET') {
    if (path === '/json') return sendJson(res, { hello: 'world' });
    if (path.startsWith('/users/')) {
      const id = path.slice('/users/'.length);
      if (id !== '' && !id.includes('/')) {
        let decoded;
        try {
          decoded = decodeURIComponent(id);
        } catch {
          return sendText(res, 400, 'Bad Request');
        }
        return sendJson(res, { id: decoded });
      }
    }
  } else if (req.method === 'POST' && path === '/echo') {
    return echo(req, res);
  }
  sendText(res, 404, 'Not Found');
});

server.listen(Number(process.env.PORT || 0), () => {
  console.log(`LISTENING ${server.address().port}`);
});
