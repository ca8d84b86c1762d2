import { describeErrorBody } from './error-body.js';
import { GcoreApiError, GcoreTokenError, isRetryableStatus, tokenErrorKind } from './errors.js';
import { redact } from './redact.js';

describe('describeErrorBody', () => {
  it.each([
    [
      '{"message": "Authentication credentials were not provided."}',
      'Authentication credentials were not provided.',
    ],
    ['{"detail": "Invalid token."}', 'Invalid token.'],
    ['{"error": "video not found"}', 'video not found'],
    ['{"error": {"message": "nested"}}', 'nested'],
    ['{"errors": ["one", "two"]}', 'one; two'],
    ['Bad Gateway', 'Bad Gateway'],
    ['<html><body><h1>502 Bad Gateway</h1>\n<hr>nginx</body></html>', '502 Bad Gateway nginx'],
    ['', ''],
    ['"just a string"', 'just a string'],
  ])('reads %s', (body, message) => {
    expect(describeErrorBody(body).message).toBe(message);
  });

  it('lists field errors one by one', () => {
    const described = describeErrorBody(
      '{"errors": {"name": ["can\'t be blank"], "priority": ["too big", "odd"]}}',
    );
    expect(described.message).toBe("name: can't be blank; priority: too big, odd");
    expect(described.fieldErrors).toEqual({ name: ["can't be blank"], priority: ['too big', 'odd'] });
  });

  it('keeps a long body to one readable line', () => {
    expect(describeErrorBody('x'.repeat(5000)).message.length).toBeLessThanOrEqual(300);
  });
});

describe('redact', () => {
  it("replaces the token Gcore echoes in 'token invalid (…)' but keeps '(null)'", () => {
    expect(redact('Error: token invalid (eyJhbGciOiJIUzI1NiJ9.eyJ2IjoxfQ.c2ln)')).toBe(
      'Error: token invalid (…)',
    );
    expect(redact('Error: token invalid (not-a-jwt-at-all)')).toBe('Error: token invalid (…)');
    expect(redact('Error: token invalid (null)')).toBe('Error: token invalid (null)');
  });

  it('removes known secrets and anything shaped like a JWT', () => {
    expect(redact('key 1234$0d16599c here', ['1234$0d16599c'])).toBe('key [redacted] here');
    expect(redact('saw eyJhbGciOiJIUzI1NiJ9.eyJ2IjoxfQ.c2ln in logs')).toBe('saw … in logs');
  });
});

describe('classification', () => {
  it.each([
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [405, false],
    [422, false],
    [408, true],
    [409, true],
    [425, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
  ])('status %d is retryable: %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
    expect(new GcoreApiError({ status, method: 'GET', path: '/x', gcoreMessage: '' }).retryable).toBe(
      retryable,
    );
  });

  it('recognises each documented token complaint', () => {
    expect(tokenErrorKind('Error: token invalid (null)')).toBe('invalid');
    expect(tokenErrorKind('Error: token video (12345) does not match this video (23456)')).toBe(
      'video_mismatch',
    );
    expect(tokenErrorKind('Error: token client (123) does not match this client (234)')).toBe(
      'client_mismatch',
    );
    expect(tokenErrorKind('Internal Server Error')).toBeUndefined();
  });

  it('says what to do about a token error', () => {
    const error = new GcoreTokenError('invalid', {
      status: 500,
      method: 'POST',
      url: 'https://h/upload/',
      body: '',
    });
    expect(error).toMatchObject({
      code: 'GCORE_TUS_TOKEN_INVALID',
      retryable: true,
      status: 500,
      kind: 'invalid',
    });
    expect(error.message).toMatch(/fetch fresh upload parameters/);
  });
});
