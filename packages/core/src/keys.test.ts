import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchIndexes, batchKeys, feedKeys, isKeyOf, jobKeys, lockKeys, relayKeys } from './keys.js';

/** Every key a builder makes, with sample arguments: [where, key]. */
function everyKey(prefix: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (where: string, value: unknown) => {
    if (typeof value === 'string') out.push([where, value]);
    else if (typeof value === 'function') walk(`${where}()`, value('x', 7));
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) walk(`${where}.${k}`, v);
  };
  walk('jobKeys', jobKeys(prefix));
  walk('batchKeys', batchKeys(prefix, 'b'));
  walk('batchIndexes', batchIndexes(prefix));
  walk('relayKeys', relayKeys(prefix));
  for (const [name, build] of Object.entries({ ...lockKeys, ...feedKeys }))
    out.push([name, (build as (p: string, x: string) => string)(prefix, 'x')]);
  return out;
}

/** The part of a key Redis Cluster hashes: its first non-empty `{…}`, else the whole key. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('keys', () => {
  it.each(['{gtr}', 'app{gtr}', '{test-1}'])('puts the hash tag of prefix %s in every key', (prefix) => {
    const keys = everyKey(prefix);
    expect(keys.length).toBeGreaterThan(30);
    for (const [where, key] of keys) {
      expect([where, key.startsWith(`${prefix}:`)]).toEqual([where, true]);
      expect([where, hashedPart(key)]).toEqual([where, hashedPart(prefix)]);
    }
  });

  it('names the keys as the relay always has (stored data: a rename loses what older relays wrote)', () => {
    const jobs = jobKeys('gtr');
    expect([
      jobs.job('a'),
      jobs.seq,
      jobs.all,
      jobs.state('queued'),
      jobs.kind('import'),
      jobs.owner('t'),
      jobs.search,
      jobs.finished,
      jobs.noClaim,
      jobs.createLock('h'),
      jobs.events,
      jobs.callbacksDue,
      jobs.callbacksJobs,
      jobs.videos,
      jobs.webhooksSeen,
      jobs.stats('429', 5),
    ]).toEqual([
      'gtr:job:a',
      'gtr:jobs:seq',
      'gtr:jobs:all',
      'gtr:jobs:state:queued',
      'gtr:jobs:kind:import',
      'gtr:jobs:owner:t',
      'gtr:jobs:search',
      'gtr:jobs:finished',
      'gtr:jobs:no-claim',
      'gtr:jobs:create-lock:h',
      'gtr:job-events',
      'gtr:callbacks:due',
      'gtr:callbacks:jobs',
      'gtr:videos',
      'gtr:webhooks:seen',
      'gtr:stats:429:5',
    ]);
    expect([batchKeys('gtr', 'b'), batchIndexes('gtr').owner('t'), batchIndexes('gtr')]).toEqual([
      { hash: 'gtr:batch:b', jobs: 'gtr:batch:b:jobs' },
      'gtr:batches:owner:t',
      expect.objectContaining({
        seq: 'gtr:batches:seq',
        all: 'gtr:batches:all',
        finished: 'gtr:batches:finished',
      }),
    ]);
    expect([
      lockKeys.upload('gtr', 'u'),
      lockKeys.manifest('gtr', 'u'),
      lockKeys.task('gtr', 'expiry'),
      lockKeys.taskDone('gtr', 'expiry'),
      lockKeys.releases('gtr'),
      feedKeys.received('gtr', 'u'),
      feedKeys.parked('gtr', 'u'),
      feedKeys.cancel('gtr'),
    ]).toEqual([
      'gtr:lock:upload:u',
      'gtr:lock:manifest:u',
      'gtr:lease:expiry',
      'gtr:lease:expiry:done',
      'gtr:lock:release',
      'gtr:received:u',
      'gtr:parked:u',
      'gtr:cancel',
    ]);
    const relay = relayKeys('gtr');
    expect([
      relay.gcorePace,
      relay.readyz('n'),
      relay.doctor('n'),
      relay.authFailures,
      relay.quotaUploads,
      relay.quotaCount,
      relay.quotaBytes,
      relay.importClaim('h'),
    ]).toEqual([
      'gtr:gcore-pace',
      'gtr:readyz:n',
      'gtr:doctor:n',
      'gtr:auth-failures',
      'gtr:quota:uploads',
      'gtr:quota:count',
      'gtr:quota:bytes',
      'gtr:imports:url:h',
    ]);
  });

  it('tells its own keys from others', () => {
    expect(isKeyOf('{gtr}', '{gtr}:imports:url:h')).toBe(true);
    expect(isKeyOf('{gtr}', '{gtr}x:imports:url:h')).toBe(false);
    expect(isKeyOf('{gtr}', 'other:{gtr}:job:a')).toBe(false);
  });

  it('is the only production file that builds a key from a prefix', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const offenders: string[] = [];
    for (const base of ['packages', 'apps']) {
      for (const pkg of readdirSync(path.join(root, base))) {
        const src = path.join(root, base, pkg, 'src');
        if (!existsSync(src)) continue;
        for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
          const where = `${base}/${pkg}/src/${file}`;
          if (!file.endsWith('.ts') || file.endsWith('.test.ts') || where === 'packages/core/src/keys.ts')
            continue;
          const text = readFileSync(path.join(src, file), 'utf8');
          // A template that begins with a prefix and a colon is a key (or a channel) being named.
          for (const m of text.matchAll(/`\$\{[\w.]*prefix\}:/gi)) offenders.push(`${where}: ${m[0]}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
