import { isSecretParam, redactQueryValues, redactSecretParams } from './secret-params.js';

describe('secret query parameters', () => {
  it.each([
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'signature',
    'sig',
    'X-Amz-Signature',
    'X-Amz-Credential',
    'X-Amz-Security-Token',
    'x-goog-signature',
    'api_key',
    'apikey',
    'api-key',
    'key',
    'password',
    'client_secret',
    'TOKEN',
    'access%5Ftoken',
  ])('takes %s for a secret', (name) => {
    expect(isSecretParam(name)).toBe(true);
  });

  it.each(['limit', 'state', 'cursor', 'id', 'name', 'x', 'tokens_used_total', 'keyboard'])(
    'leaves %s alone',
    (name) => {
      expect(isSecretParam(name)).toBe(false);
    },
  );

  it('redacts values inside any text and keeps the rest', () => {
    expect(redactSecretParams('GET /a?token=abc&limit=5#top')).toBe('GET /a?token=[redacted]&limit=5#top');
    expect(redactSecretParams('{"url":"/x?sig=abc","msg":"see https://h/p?password=p w"}')).toBe(
      '{"url":"/x?sig=[redacted]","msg":"see https://h/p?password=[redacted] w"}',
    );
    expect(redactSecretParams('no query here: a=b')).toBe('no query here: a=b');
  });

  it('drops every value of a callback URL', () => {
    expect(redactQueryValues('https://t/h?tenant=acme&flag#frag')).toBe(
      'https://t/h?tenant=[redacted]&flag#frag',
    );
    expect(redactQueryValues('https://t/h')).toBe('https://t/h');
  });
});
