import { Writable } from 'node:stream';
import { loadConfig } from './config/load.js';
import { configSecrets, redactLogLine, secretMatcher, summarizeUploadMetadata } from './log-redaction.js';
import { createLogger, type LogOptions } from './logger.js';

function logged(options: LogOptions, write: (logger: ReturnType<typeof createLogger>) => void): string {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  write(createLogger({ level: 'debug', ...options }, sink));
  return out;
}

describe('redactLogLine', () => {
  it('hides every value of every query string, keeping the names', () => {
    expect(redactLogLine('{"url":"/a?state=ready&limit=5#top","msg":"GET https://h/p?x=1;y=2 failed"}')).toBe(
      '{"url":"/a?state=[redacted]&limit=[redacted]#top","msg":"GET https://h/p?x=[redacted];y=[redacted] failed"}',
    );
    // Empty values and text that is no query stay as they are.
    expect(redactLogLine('{"msg":"ready? a=b /x?flag&empty="}')).toBe('{"msg":"ready? a=b /x?flag&empty="}');
  });

  it('hides secret-named parameters outside a query string too', () => {
    expect(redactLogLine('body grant=x&client_secret=abc')).toBe('body grant=x&client_secret=[redacted]');
  });

  it.each([
    '/hooks/gcore/s3cr3t',
    '/Hooks/Gcore/s3cr3t',
    '/HOOKS/GCORE/s3cr3t?x=1',
    '/hooks//gcore/s3cr3t',
    '/hooks/./gcore/s3cr3t',
    '/hooks%2Fgcore%2Fs3cr3t',
    'http://relay/hooks/gcore/s3cr3t/',
  ])('hides the webhook secret segment of %s', (path) => {
    const out = redactLogLine(`{"url":"${path}"}`);
    expect(out).not.toContain('s3cr3t');
    expect(out).toContain('[redacted]');
  });

  it('hides JWT-shaped strings (Gcore TUS tokens) and the known secrets in any encoding', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJ2aWRlb19pZCI6MX0.c2lnbmF0dXJl';
    expect(redactLogLine(`token invalid (${jwt})`)).toBe('token invalid ([redacted])');
    const secret = 'key/with "quotes"+$';
    const known = secretMatcher([secret, 'short']);
    const line = `a ${secret} b ${encodeURIComponent(secret)} c ${JSON.stringify(secret).slice(1, -1)} short`;
    expect(redactLogLine(line, known)).toBe('a [redacted] b [redacted] c [redacted] short');
    expect(secretMatcher([undefined, ''])).toBeNull();
  });
});

describe('createLogger', () => {
  it('logs credential headers of requests and responses as [redacted], in either spelling', () => {
    const out = logged({}, (logger) =>
      logger.info(
        {
          req: {
            headers: {
              authorization: 'Bearer A-1',
              'proxy-authorization': 'Basic A-2',
              'x-api-key': 'A-3',
              cookie: 'a=A-4',
              host: 'relay',
            },
          },
          res: { headers: { 'set-cookie': ['s=A-5'] } },
          headers: { Authorization: 'APIKey A-6', 'X-Api-Key': 'A-7', Accept: 'x' },
        },
        'one',
      ),
    );
    for (let i = 1; i <= 7; i++) expect(out).not.toContain(`A-${i}`);
    expect(JSON.parse(out)).toMatchObject({
      req: { headers: { authorization: '[redacted]', cookie: '[redacted]', host: 'relay' } },
      res: { headers: { 'set-cookie': '[redacted]' } },
      headers: { Authorization: '[redacted]', Accept: 'x' },
    });
  });

  it('logs Upload-Metadata as its keys and file name, a query object without its values', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const metadata = `filename ${b64('talk.mp4')},callback_url ${b64('https://t/h?token=T')},is_private`;
    const out = logged({}, (logger) =>
      logger.info({ req: { headers: { 'upload-metadata': metadata }, query: { token: 'Q-1', limit: '5' } } }),
    );
    expect(JSON.parse(out).req).toEqual({
      headers: { 'upload-metadata': 'keys=filename,callback_url,is_private filename=talk.mp4' },
      query: { token: '[redacted]', limit: '[redacted]' },
    });
    expect(summarizeUploadMetadata(undefined)).toBe('[redacted]');
  });

  it('scrubs the secrets it is given from messages, fields and errors, in child loggers too', () => {
    const out = logged({ secrets: ['gcore-key-0123456789'] }, (logger) => {
      logger.child({ component: 'worker' }).error({ err: new Error('401 for gcore-key-0123456789') }, 'x');
    });
    expect(out).not.toContain('gcore-key-0123456789');
    expect(out).toContain('"component":"worker"');
  });
});

describe('configSecrets', () => {
  it('lists every secret the configuration holds', () => {
    const config = loadConfig({
      GCORE_API_KEY: 'gcore-key',
      CALLBACK_SECRET: 'callback-secret',
      GCORE_WEBHOOK_PATH_SECRET: 'webhook-secret-0123456789abcdef',
      REDIS_URL: 'redis://:redis%20pass@127.0.0.1:6379',
      RELAY_API_TOKENS: 'tool:tool-token-0123456789abcdefgh',
      RELAY_OPERATOR_TOKENS: 'ops-token-0123456789abcdefghij',
      RELAY_ADMIN_TOKENS: 'admin:admin-token-0123456789abcdefg',
    });
    expect(configSecrets(config).sort()).toEqual(
      [
        'gcore-key',
        'callback-secret',
        'webhook-secret-0123456789abcdef',
        'redis pass',
        'tool-token-0123456789abcdefgh',
        'ops-token-0123456789abcdefghij',
        'admin-token-0123456789abcdefg',
      ].sort(),
    );
  });
});
