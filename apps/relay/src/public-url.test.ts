import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

const meta = `filename ${Buffer.from('a.mp4').toString('base64')}`;

async function locationFrom(t: TestRelay, headers: Record<string, string>): Promise<string> {
  const res = await request(t.relay.app)
    .post('/files/')
    .set('Authorization', `Bearer ${t.token}`)
    .set('Tus-Resumable', '1.0.0')
    .set('Upload-Length', '10')
    .set('Upload-Metadata', meta)
    .set(headers);
  expect(res.status).toBe(201);
  return res.headers.location!;
}

const SPOOFED = {
  Host: 'evil.example',
  'X-Forwarded-Host': 'evil-forwarded.example',
  'X-Forwarded-Proto': 'http',
  Forwarded: 'host=evil-forwarded.example;proto=http',
};

describe('PUBLIC_URL', () => {
  it('builds Location from it, never from a spoofed Host or forwarded headers', async () => {
    for (const trustProxy of [false, true]) {
      const t = await startTestRelay({ publicUrl: 'https://relay.example.com/video-relay/', trustProxy });
      try {
        const location = await locationFrom(t, SPOOFED);
        expect(location).toMatch(/^https:\/\/relay\.example\.com\/video-relay\/files\/[0-9a-f]{32}$/);
        // The upload is reachable under the id in it (a proxy strips the path prefix).
        const id = location.split('/').pop()!;
        const head = await request(t.relay.app)
          .head(`/files/${id}`)
          .set('Authorization', `Bearer ${t.token}`)
          .set('Tus-Resumable', '1.0.0')
          .set('Host', 'evil.example');
        expect(head.status).toBe(200);
        expect(JSON.stringify(head.headers)).not.toContain('evil');
      } finally {
        await t.close();
      }
    }
  });

  it('leaves TRUST_PROXY its meaning when unset', async () => {
    const behindProxy = await startTestRelay({ trustProxy: true });
    const direct = await startTestRelay({ trustProxy: false });
    try {
      expect(await locationFrom(behindProxy, SPOOFED)).toMatch(/^http:\/\/evil-forwarded\.example\/files\//);
      expect(await locationFrom(direct, SPOOFED)).toMatch(/^http:\/\/evil\.example\/files\//);
    } finally {
      await Promise.all([behindProxy.close(), direct.close()]);
    }
  });
});
