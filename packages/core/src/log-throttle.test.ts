import { Writable } from 'node:stream';
import { RepeatedErrorLog } from './log-throttle.js';
import { createLogger } from './logger.js';
import { waitFor } from './testing.js';

describe('RepeatedErrorLog', () => {
  const capture = () => {
    const lines: Array<{ msg: string; repeated?: number; err?: { message: string }; queue?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    return { lines, logger: createLogger({ level: 'info' }, sink) };
  };

  it('logs an error the first time, then once per interval with how often it came', async () => {
    const { lines, logger } = capture();
    const log = new RepeatedErrorLog(logger, { intervalMs: 200 });
    const error = new Error('CROSSSLOT Keys in request do not hash to the same slot');
    for (let i = 0; i < 5_000; i++) log.log(error, 'worker error', { queue: 'forward' });
    expect(lines.map((l) => [l.msg, l.repeated, l.queue])).toEqual([['worker error', undefined, 'forward']]);

    await waitFor(() => (lines.length > 1 ? true : undefined));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ msg: 'worker error (repeated 4999 times in 200 ms)', repeated: 4_999 });

    // Quiet for a whole interval: forgotten, so the next one is logged at once again.
    await new Promise((r) => setTimeout(r, 500));
    expect(lines).toHaveLength(2);
    log.log(error, 'worker error');
    expect(lines).toHaveLength(3);
    log.close();
  });

  it('never hides a different error behind a repeated one, and counts what is left at close', () => {
    const { lines, logger } = capture();
    const log = new RepeatedErrorLog(logger);
    log.log(new Error('a'), 'queue connection error');
    log.log(new Error('a'), 'queue connection error');
    log.log(new Error('b'), 'queue connection error');
    expect(lines.map((l) => l.err?.message)).toEqual(['a', 'b']);
    log.close();
    expect(lines.map((l) => [l.err?.message, l.repeated])).toEqual([
      ['a', undefined],
      ['b', undefined],
      ['a', 1],
    ]);
  });
});
