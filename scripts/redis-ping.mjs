// Exits 0 when the Redis at the given URL (or REDIS_URL, or 127.0.0.1:6379) answers PING.
// Plain `net`, so it works before `pnpm install` and without redis-cli.
import net from 'node:net';

const url = new URL(process.argv[2] || process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const socket = net.connect({ host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) });
const fail = () => {
  socket.destroy();
  process.exit(1);
};
socket.setTimeout(2000, fail);
socket.on('error', fail);
socket.on('connect', () => {
  const password = decodeURIComponent(url.password);
  if (password) {
    const user = decodeURIComponent(url.username) || 'default';
    socket.write(`AUTH ${user} ${password}\r\n`);
  }
  socket.write('PING\r\n');
});
let reply = '';
socket.on('data', (chunk) => {
  reply += chunk.toString();
  if (reply.includes('+PONG')) {
    socket.end();
    process.exit(0);
  }
  if (reply.startsWith('-')) fail();
});
