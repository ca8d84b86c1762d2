import type { Redis } from 'ioredis';
import { deleteKeys, testPrefix, testRedis } from '../testing.js';
import { type JobContext, jobContext } from './context.js';
import type { NewJob } from './record.js';
import { emptyProgress } from './types.js';

/** The job-store tests' job: an upload born `receiving`, with `overrides`. */
export const testJob = (id: string, overrides: Partial<NewJob> = {}): NewJob => ({
  id,
  kind: 'upload',
  state: 'receiving',
  name: `video ${id}`,
  filename: `${id}.mp4`,
  size: 100,
  origin_url: null,
  request: { description: null, filetype: 'video/mp4', fields: {}, callback_url: null, via: 'gcore' },
  progress: emptyProgress(),
  ...overrides,
});

/** When every job-store test's clock starts. */
export const TEST_CLOCK_START = Date.parse('2025-01-01T00:00:00Z');

/**
 * The job-store tests' Redis: `reset` (in `beforeEach`) gives each test a prefix of its own and a
 * clock at TEST_CLOCK_START that the test moves (`store.clock += …`); `clear` and `close` for
 * `afterEach` and `afterAll`.
 */
export class JobStoreFixture {
  readonly redis: Redis = testRedis();
  prefix = '';
  clock = TEST_CLOCK_START;
  ctx: JobContext = jobContext(this.redis, this.prefix, () => this.clock);

  reset(): void {
    this.prefix = testPrefix();
    this.clock = TEST_CLOCK_START;
    this.ctx = jobContext(this.redis, this.prefix, () => this.clock);
  }

  clear(): Promise<void> {
    return deleteKeys(this.redis, this.prefix);
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
