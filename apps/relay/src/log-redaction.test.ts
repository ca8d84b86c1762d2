import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@gtr/core';
import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

// The logger knows no secret here (no `secrets`): what is hidden is hidden by the rule itself.
function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug' }, sink), lines };
}

describe('secrets in query strings', () => {
  it('never reach a log line, whatever the route or the answer: every query value is hidden', async () => {
    const { logger, lines } = capture();
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
        { url: 'https://tool.example/hook?token=SECRET-9X&tenant=SECRET-11X' },
        'callback to https://tool.example/hook?X-Amz-Credential=SECRET-10X&plain=SECRET-12X failed',
      );
      const all = lines.join('\n');
      for (let i = 1; i <= 12; i++) expect(all).not.toContain(`SECRET-${i}X`);
      // The names stay, so the lines are still useful.
      expect(all).toContain('token=[redacted]');
      expect(all).toContain('tenant=[redacted]');
      const entries = lines.map(
        (l) => JSON.parse(l) as { req?: { url?: string; query?: unknown }; url?: string },
      );
      const first = entries.find((e) => e.req?.url?.startsWith('/api/jobs?token='));
      expect(first?.req?.url).toBe('/api/jobs?token=[redacted]&limit=[redacted]');
      expect(first?.req?.query).toEqual({ token: '[redacted]', limit: '[redacted]' });
    } finally {
      await t.close();
    }
  });
});

describe('credentials in headers and the webhook path', () => {
  const HOOK_SECRET = 'hookSecretForLogTests0123456789';
  let t: TestRelay;
  let lines: string[];
  beforeAll(async () => {
    const captured = capture();
    lines = captured.lines;
    t = await startTestRelay({ logger: captured.logger, gcoreWebhooks: { pathSecret: HOOK_SECRET } });
  });
  afterAll(() => t.close());

  it('logs Authorization, Proxy-Authorization, X-Api-Key and Cookie as [redacted]', async () => {
    for (const p of ['/api/jobs', '/files/0123456789abcdef', '/no-such-route']) {
      await request(t.relay.app)
        .get(p)
        .set('Authorization', `Bearer ${t.token}`)
        .set('Proxy-Authorization', 'Basic UFJPWFktU0VDUkVULTE=')
        .set('X-Api-Key', 'X-API-KEY-SECRET-2')
        .set('Cookie', 'session=COOKIE-SECRET-3')
        .set('Tus-Resumable', '1.0.0');
    }
    const all = lines.join('\n');
    for (const secret of [t.token, 'UFJPWFktU0VDUkVULTE=', 'X-API-KEY-SECRET-2', 'COOKIE-SECRET-3']) {
      expect(all).not.toContain(secret);
    }
    const headers = lines
      .map((l) => JSON.parse(l) as { req?: { url?: string; headers?: Record<string, string> } })
      .filter((e) => e.req?.url === '/no-such-route')
      .map((e) => e.req?.headers);
    expect(headers[0]).toMatchObject({
      authorization: '[redacted]',
      'proxy-authorization': '[redacted]',
      'x-api-key': '[redacted]',
      cookie: '[redacted]',
    });
  });

  it('logs only the keys of Upload-Metadata and its file name', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const callback = 'https://tool.example/hook?token=CALLBACK-SECRET-4';
    const created = await request(t.relay.app)
      .post('/files/')
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '4')
      .set(
        'Upload-Metadata',
        `filename ${b64('talk.mp4')},name ${b64('NAME-SECRET-5')},callback_url ${b64(callback)}`,
      );
    expect(created.status).toBe(201);
    const id = created.headers.location!.split('/').pop()!;
    // HEAD answers with the metadata: the response's copy is hidden the same way.
    await request(t.relay.app)
      .head(`/files/${id}`)
      .set('Authorization', `Bearer ${t.token}`)
      .set('Tus-Resumable', '1.0.0');
    const all = lines.join('\n');
    // (The title itself is logged when the upload is created: it names the video, it is no credential.)
    for (const secret of [b64(callback), 'CALLBACK-SECRET-4', b64('NAME-SECRET-5')]) {
      expect(all).not.toContain(secret);
    }
    const logged = lines
      .map((l) => JSON.parse(l) as { req?: { method?: string; headers?: Record<string, string> } })
      .find((e) => e.req?.method === 'POST' && e.req.headers?.['upload-metadata']);
    expect(logged?.req?.headers?.['upload-metadata']).toBe(
      'keys=filename,name,callback_url filename=talk.mp4',
    );
  });

  it.each([
    `/hooks/gcore/${HOOK_SECRET}`,
    `/Hooks/Gcore/${HOOK_SECRET}`,
    `/HOOKS/GCORE/${HOOK_SECRET}?x=1`,
    `/hooks//gcore/${HOOK_SECRET}`,
    `/hooks/gcore/${HOOK_SECRET}/`,
    `/hooks/%2fgcore/${HOOK_SECRET}`,
  ])('logs the webhook route %s without its secret', async (p) => {
    await request(t.relay.app).post(p).set('Content-Type', 'application/json').send('{}');
    const all = lines.join('\n');
    expect(all).not.toContain(HOOK_SECRET);
    expect(all).toMatch(/\/hooks(\/|%2f)+gcore\/\[redacted\]/i);
  });
});
