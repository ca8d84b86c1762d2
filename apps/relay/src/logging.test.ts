import { Writable } from 'node:stream';
import { createLogger } from '@gtr/core';
import request from 'supertest';
import { startTestRelay } from './testing.js';

describe('request logs', () => {
  it('carry the upload id and never the relay token', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const token = 'secret-relay-token-0123456789';
    const t = await startTestRelay({ tokens: [token], logger: createLogger({ level: 'debug' }, sink) });
    try {
      const created = await request(t.relay.app)
        .post('/files/')
        .set('Authorization', `Bearer ${token}`)
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', '4')
        .set('Upload-Metadata', `filename ${Buffer.from('a.mp4').toString('base64')}`)
        .set('Content-Type', 'application/offset+octet-stream')
        .send(Buffer.from('abcd'));
      const id = created.headers.location!.split('/').pop()!;
      await request(t.relay.app)
        .head(`/files/${id}`)
        .set('Authorization', `Bearer ${token}`)
        .set('Tus-Resumable', '1.0.0');
      await request(t.relay.app).get(`/api/jobs/${id}`).set('Authorization', `Bearer ${token}`);
      await request(t.relay.app).get('/api/jobs').set('Authorization', 'Bearer wrong-token-value');
      const all = lines.join('\n');
      expect(all).not.toContain(token);
      expect(all).not.toContain('wrong-token-value');
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.some((e) => e.uploadId === id && e.msg === 'upload finished and queued')).toBe(true);
      expect(entries.some((e) => e.uploadId === id && typeof e.req === 'object')).toBe(true);
      expect(
        entries.every((e) => e.req === undefined || typeof (e.req as { id?: unknown }).id !== 'undefined'),
      ).toBe(true);
    } finally {
      await t.close();
    }
  });
});
