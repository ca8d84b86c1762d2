import { Writable } from 'node:stream';
import { createLogger } from '@gtr/core';
import request from 'supertest';
import { startTestRelay } from './testing.js';

describe('secrets in query strings', () => {
  it('never reach a log line, whatever the route or the answer', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger({ level: 'debug' }, sink);
    const t = await startTestRelay({ logger });
    try {
      const auth = `Bearer ${t.token}`;
      await request(t.relay.app).get('/api/jobs?token=SECRET-1X&limit=5').set('Authorization', auth);
      await request(t.relay.app).get('/api/jobs?access_token=SECRET-2X').set('Authorization', 'Bearer wrong');
      await request(t.relay.app).get('/nope?api_key=SECRET-3X&password=SECRET-4X').set('Authorization', auth);
      await request(t.relay.app)
        .head('/files/0123456789abcdef?X-Amz-Signature=SECRET-5X&sig=SECRET-6X')
        .set('Authorization', auth)
        .set('Tus-Resumable', '1.0.0');
      await request(t.relay.app)
        .get('/api/jobs/x?key=SECRET-7X;signature=SECRET-8X')
        .set('Authorization', auth);
      // Also what the code logs itself, in a message or a field.
      logger.warn(
        { url: 'https://tool.example/hook?token=SECRET-9X&x=1' },
        'callback to https://tool.example/hook?X-Amz-Credential=SECRET-10X failed',
      );
      const all = lines.join('\n');
      for (let i = 1; i <= 10; i++) expect(all).not.toContain(`SECRET-X${i}`);
      expect(all).toContain('token=[redacted]');
      // What is not a secret stays, so the lines are still useful.
      expect(all).toContain('limit=5');
      expect(all).toContain('x=1');
      const entries = lines.map((l) => JSON.parse(l) as { req?: { url?: string; query?: unknown } });
      const first = entries.find((e) => e.req?.url?.startsWith('/api/jobs?token='));
      expect(first?.req?.url).toBe('/api/jobs?token=[redacted]&limit=5');
    } finally {
      await t.close();
    }
  });
});
