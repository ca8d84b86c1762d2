import { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.js';

const now = Date.parse('2025-01-01T00:00:00Z');
const headers = (values: Record<string, string>) => new Headers(values);

describe('parseRetryAfter', () => {
  it('reads Retry-After in whole and fractional seconds', () => {
    expect(parseRetryAfter(headers({ 'Retry-After': '3' }), now)).toBe(3000);
    expect(parseRetryAfter(headers({ 'Retry-After': '0.25' }), now)).toBe(250);
    expect(parseRetryAfter(headers({ 'Retry-After': '0' }), now)).toBe(0);
  });

  it('reads Retry-After as an HTTP date relative to now', () => {
    expect(parseRetryAfter(headers({ 'Retry-After': 'Wed, 01 Jan 2025 00:00:05 GMT' }), now)).toBe(5000);
  });

  it('treats a date in the past as no wait at all', () => {
    expect(parseRetryAfter(headers({ 'Retry-After': 'Tue, 31 Dec 2024 23:59:00 GMT' }), now)).toBe(0);
  });

  it('prefers retry-after-ms, as Gcore SDKs do', () => {
    expect(parseRetryAfter(headers({ 'retry-after-ms': '1500', 'Retry-After': '9' }), now)).toBe(1500);
    expect(parseRetryAfter(headers({ 'retry-after-ms': '12.5' }), now)).toBe(13);
  });

  it('falls back to Retry-After when retry-after-ms is garbage', () => {
    expect(parseRetryAfter(headers({ 'retry-after-ms': 'soon', 'Retry-After': '2' }), now)).toBe(2000);
  });

  it('caps absurd waits so a worker reschedules instead of sleeping for hours', () => {
    expect(parseRetryAfter(headers({ 'Retry-After': '86400' }), now)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('says nothing when the headers say nothing usable', () => {
    expect(parseRetryAfter(headers({}), now)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'Retry-After': 'later' }), now)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'Retry-After': '-5' }), now)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'Retry-After': '1.5.2025' }), now)).toBeUndefined();
  });

  it('accepts any object with get(), such as a TUS response adapter', () => {
    expect(parseRetryAfter({ get: (name) => (name === 'retry-after' ? '1' : null) }, now)).toBe(1000);
  });
});
