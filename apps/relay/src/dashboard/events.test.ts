import { emptyProgress, type PublicJob } from '@gtr/core';
import { setJobState } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '../testing.js';

interface SseEvent {
  event: string;
  data: unknown;
  raw: string;
}

/** A minimal EventSource over fetch that keeps every event, for waiting on the one a test needs. */
async function openEvents(url: string, token: string) {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const pump = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data: JSON.parse(data), raw: block });
          end = buffer.indexOf('\n\n');
        }
        for (const wake of waiters) wake();
      }
    } catch {
      // aborted
    }
    ended = true;
    for (const wake of waiters) wake();
  })();
  return {
    events,
    /** The first event (from `from` on) that matches, or a rejection after `timeoutMs`. */
    next(match: (e: SseEvent) => boolean, { timeoutMs = 1_000, from = 0 } = {}): Promise<SseEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(from).find(match);
          if (found || ended) {
            waiters.delete(check);
            clearTimeout(timer);
            if (found) resolve(found);
            else reject(new Error(`stream ended; events: ${JSON.stringify(events.map((e) => e.event))}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no matching event in ${timeoutMs} ms; got ${events.map((e) => e.raw).join(' | ')}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    ended: () => pump.then(() => ended),
    close() {
      abort.abort();
      return pump;
    },
  };
}

const jobsIn = (e: SseEvent) => (e.data as { jobs: PublicJob[] }).jobs;
const hasJob =
  (id: string, where: (job: PublicJob) => boolean = () => true) =>
  (e: SseEvent) =>
    e.event === 'jobs' && jobsIn(e).some((job) => job.id === id && where(job));

describe('GET /api/events', () => {
  let t: TestRelay;
  beforeEach(async () => {
    t = await startTestRelay();
  });
  afterEach(() => t.close());

  const create = (id: string, name = id) =>
    t.relay.jobs.create({
      id,
      kind: 'upload',
      state: 'receiving',
      name,
      filename: `${name}.mp4`,
      size: 1_000,
      origin_url: null,
      request: { description: null, filetype: null, fields: {}, callback_url: null, via: 'gcore' },
      progress: { ...emptyProgress(), token: 'gcore-tus-secret', upload_url: 'https://tus.gcore.example/x' },
    });

  it('says when it listens, then sends the header numbers', async () => {
    const sse = await openEvents(`${t.url}/api/events`, t.token);
    try {
      await sse.next((e) => e.event === 'ready');
      const summary = await sse.next((e) => e.event === 'summary');
      expect(summary.data).toMatchObject({ total: 0, queue: { depth: 0 } });
    } finally {
      await sse.close();
    }
  });

  it('sends a job within a second of its record changing, as the public job', async () => {
    const sse = await openEvents(`${t.url}/api/events`, t.token);
    try {
      await sse.next((e) => e.event === 'ready');
      await create('job-a');
      const created = await sse.next(hasJob('job-a', (j) => j.state === 'receiving'));
      await setJobState(t.relay.jobs, 'job-a', 'uploading', { bytes_received: 1_000, bytes_forwarded: 400 });
      const moved = await sse.next(
        hasJob('job-a', (j) => j.state === 'uploading' && j.bytes_forwarded === 400),
      );
      const job = jobsIn(moved).find((j) => j.id === 'job-a')!;
      expect(Object.keys(job).sort()).toEqual(
        Object.keys(jobsIn(created).find((j) => j.id === 'job-a')!).sort(),
      );
      expect(job).not.toHaveProperty('progress');
      expect(job).not.toHaveProperty('request');
      expect(sse.events.map((e) => e.raw).join('\n')).not.toMatch(/gcore-tus-secret|tus\.gcore\.example/);
    } finally {
      await sse.close();
    }
  });

  it('coalesces a burst of updates into a few events that end with the latest state', async () => {
    const sse = await openEvents(`${t.url}/api/events`, t.token);
    try {
      await sse.next((e) => e.event === 'ready');
      await create('burst');
      await sse.next(hasJob('burst'));
      const from = sse.events.length;
      for (let bytes = 10; bytes <= 400; bytes += 10) {
        await t.relay.jobs.update('burst', { bytes_received: bytes });
      }
      await sse.next(
        hasJob('burst', (j) => j.bytes_received === 400),
        { from, timeoutMs: 2_000 },
      );
      const sent = sse.events.slice(from).filter(hasJob('burst'));
      // 40 changes: one event each would be 40.
      expect(sent.length).toBeLessThanOrEqual(10);
    } finally {
      await sse.close();
    }
  });

  it('tells the page which jobs were removed', async () => {
    const sse = await openEvents(`${t.url}/api/events`, t.token);
    try {
      await sse.next((e) => e.event === 'ready');
      await create('gone');
      await sse.next(hasJob('gone'));
      await t.relay.jobs.remove('gone');
      await sse.next((e) => e.event === 'jobs' && (e.data as { removed: string[] }).removed.includes('gone'));
    } finally {
      await sse.close();
    }
  });

  it('serves several pages at once and ends every stream when the relay stops', async () => {
    const [a, b] = await Promise.all([
      openEvents(`${t.url}/api/events`, t.token),
      openEvents(`${t.url}/api/events`, t.token),
    ]);
    await Promise.all([a.next((e) => e.event === 'ready'), b.next((e) => e.event === 'ready')]);
    await create('both');
    await Promise.all([a.next(hasJob('both')), b.next(hasJob('both'))]);
    t.relay.stop();
    expect(await a.ended()).toBe(true);
    expect(await b.ended()).toBe(true);
  });
});
