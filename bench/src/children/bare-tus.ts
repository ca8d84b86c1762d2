/**
 * The anchor for ingest: what a team could run instead of the relay — `@tus/server` with
 * `@tus/file-store` on plain `node:http`, no auth, no jobs, no logs. Prints its URL as JSON.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const directory = process.env.BENCH_DIR;
if (!directory) throw new Error('BENCH_DIR is required');

const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const server = createServer((req, res) => {
  tus.handle(req, res).catch((error: unknown) => {
    console.error(error);
    if (!res.headersSent) res.writeHead(500).end();
  });
});
// As in the relay: a multi-GB single PATCH must not be cut by Node's 5-minute request timeout.
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
