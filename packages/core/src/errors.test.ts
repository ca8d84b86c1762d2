import { AppError, ERROR_CODES } from './errors.js';
import { SafeFetchError } from './net/errors.js';

describe('AppError', () => {
  it('takes its message, status and retryability from the catalogue unless told otherwise', () => {
    const plain = new AppError('INSUFFICIENT_STORAGE');
    expect([plain.message, plain.httpStatus, plain.retryable]).toEqual([
      ERROR_CODES.INSUFFICIENT_STORAGE.meaning,
      507,
      true,
    ]);
    const told = new AppError('INSUFFICIENT_STORAGE', 'the disk is full', 503, false);
    expect([told.message, told.httpStatus, told.retryable]).toEqual(['the disk is full', 503, false]);
    expect(told.toJSON()).toEqual({
      code: 'INSUFFICIENT_STORAGE',
      message: 'the disk is full',
      retryable: false,
    });
  });

  it('answers 500 for a code that is never an HTTP answer, unless given a status', () => {
    expect(ERROR_CODES.FILE_INCOMPLETE.status).toBeNull();
    expect(new AppError('FILE_INCOMPLETE', 'short').httpStatus).toBe(500);
    expect(new AppError('FILE_INCOMPLETE', 'short', 409).httpStatus).toBe(409);
  });

  it('gives SafeFetchError the catalogue status of its code', () => {
    expect(new SafeFetchError('FETCH_TIMEOUT', 'slow', true).httpStatus).toBe(504);
    expect(new SafeFetchError('ADDRESS_NOT_ALLOWED', 'private').httpStatus).toBe(400);
    expect(new SafeFetchError('ADDRESS_NOT_ALLOWED', 'private').retryable).toBe(false);
    expect(new SafeFetchError('DOWNLOAD_INCOMPLETE', 'cut').retryable).toBe(true);
  });
});
