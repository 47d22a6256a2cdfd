'use strict';
// The static-file reference: nginx with one worker process (master_process off, so the one process
// that serves is the one measured), sendfile on, no access log, serving bench/static on $PORT.
// Prints `PID <nginx pid>` and `LISTENING <port>` for the harness, and stops nginx on SIGTERM.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const port = Number(process.env.PORT);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-nginx-'));
const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  include ${process.env.NGINX_MIME_TYPES || '/etc/nginx/mime.types'};
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port};
    root ${path.resolve(process.env.BENCH_STATIC_DIR)};
  }
}
`;
fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
const nginx = spawn(process.env.NGINX || 'nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
nginx.on('exit', (code) => {
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
console.log(`PID ${nginx.pid}`);

// Ready once the port accepts a connection.
(function probe() {
  const socket = net.connect(port, '127.0.0.1', () => {
    socket.destroy();
    console.log(`LISTENING ${port}`);
  });
  socket.on('error', () => setTimeout(probe, 50));
})();

process.once('SIGTERM', () => nginx.kill('SIGQUIT'));
process.once('SIGINT', () => nginx.kill('SIGQUIT'));
