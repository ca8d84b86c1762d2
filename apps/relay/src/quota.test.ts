import fs from 'node:fs/promises';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const MB = 1024 * 1024;

describe('per-tool upload quotas', () => {
  let t: TestRelay;
  afterEach(() => t.close());

  it('refuses a tool its 201st open upload by default (TOOL_MAX_OPEN_UPLOADS=200) and writes nothing', async () => {
    t = await startTestRelay({ tokens: ['tool-a:token-a-0123456789abcdef'] });
    const post = () =>
      request(t.relay.app)
        .post('/files')
        .set('Authorization', 'Bearer token-a-0123456789abcdef')
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', String(10 * MB))
        .set('Upload-Metadata', `filename ${Buffer.from('a.mp4').toString('base64')}`);
    for (let i = 0; i < 200; i++) expect((await post()).status).toBe(201);
    const before = (await fs.readdir(t.relay.uploadDir)).sort();
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('UPLOAD_QUOTA_EXCEEDED');
    expect(refused.body.error.message).toBe('tool tool-a has 200 open uploads (TOOL_MAX_OPEN_UPLOADS=200)');
    expect((await fs.readdir(t.relay.uploadDir)).sort()).toEqual(before);
  }, 60_000);
});
