import { Writable } from 'node:stream';
import { createLogger } from '@gtr/core';
import request from 'supertest';
import { startTestRelay } from './testing.js';

/** A log sink and the lines written to it. */
function capture(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, sink };
}

describe('request logs', () => {
  it('carry the upload id and never the relay token', async () => {
    const { lines, sink } = capture();
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

  it('name the upload of exactly /files/<id>, as the metrics label does, and no other spelling', async () => {
    const { lines, sink } = capture();
    const t = await startTestRelay({ logger: createLogger({ level: 'info' }, sink) });
    try {
      const auth = { Authorization: `Bearer ${t.token}`, 'Tus-Resumable': '1.0.0' };
      const created = await request(t.relay.app)
        .post('/files/')
        .set(auth)
        .set('Upload-Length', '4')
        .set('Upload-Metadata', `filename ${Buffer.from('a.mp4').toString('base64')}`);
      const id = created.headers.location!.split('/').pop()!;
      expect((await request(t.relay.app).head(`/files/${id}`).set(auth)).status).toBe(200);
      for (const spelling of [
        `/files/${id}/`,
        `/files//${id}`,
        `/files/x/${id}`,
        `/files/${id.toUpperCase()}`,
      ]) {
        const res = await request(t.relay.app).head(spelling).set(auth);
        expect([spelling, res.status]).toEqual([spelling, 404]);
      }
      const answered = lines
        .map((l) => JSON.parse(l) as { msg?: string; uploadId?: string; req?: { url?: string } })
        .filter((e) => e.req?.url?.startsWith('/files'));
      expect(answered.map((e) => [e.req?.url, e.uploadId])).toEqual([
        ['/files/', undefined],
        [`/files/${id}`, id],
        [`/files/${id}/`, undefined],
        [`/files//${id}`, undefined],
        [`/files/x/${id}`, undefined],
        [`/files/${id.toUpperCase()}`, undefined],
      ]);
      const metrics = (await request(t.relay.app).get('/metrics').set(auth)).text;
      const count = (route: string, method: string, status: number) =>
        new RegExp(
          `relay_http_request_duration_seconds_count\\{method="${method}",route="${route}",status="${status}"\\} (\\d+)`,
        ).exec(metrics)?.[1];
      expect([
        count('/files', 'POST', 201),
        count('/files/:id', 'HEAD', 200),
        count('unmatched', 'HEAD', 404),
      ]).toEqual(['1', '1', '4']);
    } finally {
      await t.close();
    }
  });
});
