import { JOB_KINDS, JOB_STATES, type PublicJob } from '@gtr/contract';
import { connect, intOption, parseCommandArgs } from '../args.js';
import { describeProgress, formatAge, renderTable, truncate } from '../format.js';
import { type CliIo, EXIT, UsageError } from '../io.js';
import { type Command, printJson, println } from './command.js';

const options = {
  state: { type: 'string' },
  kind: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  search: { type: 'string' },
  batch: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `jobs`: the newest jobs as a table (or JSON), filtered by state and kind. */
export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'list jobs, newest first',
  usage: `Usage: pnpm relay jobs [--search WORDS] [--state STATE] [--kind upload|import] [--batch ID]
                        [--limit N] [--all] [--json]

Lists jobs, newest first: id, kind, state, name, progress, age.
  --state S     only jobs in state S (${JOB_STATES.join(', ')})
  --kind K      only uploads or imports
  --search Q    jobs whose name, filename, origin URL, id or Gcore video id has words beginning
                with every word of Q (answered by the relay, across all jobs)
  --batch ID    only the jobs of that batch
  --limit N     jobs per page, 1-500 (default 20)
  --cursor C    start at the "next" cursor of an earlier page
  --all         follow the "next" cursor to the end
  --json        print {"items": [...], "next": ...} as the API returns it`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('jobs', argv, options);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'jobs');
    const state = oneOf('state', values.state, JOB_STATES);
    const kind = oneOf('kind', values.kind, JOB_KINDS);
    const limit = intOption('jobs', 'limit', values.limit, { min: 1, max: 500 }) ?? (values.all ? 500 : 20);
    if (values.cursor !== undefined && !/^\d+$/.test(values.cursor)) {
      throw new UsageError('--cursor must be the "next" value printed by an earlier page', 'jobs');
    }
    const client = await connect(values, io);

    const items: PublicJob[] = [];
    let cursor = values.cursor;
    let next: string | null = null;
    do {
      const page = await client.listJobs({
        ...(state ? { state } : {}),
        ...(kind ? { kind } : {}),
        ...(values.search ? { q: values.search } : {}),
        ...(values.batch ? { batch: values.batch } : {}),
        limit,
        ...(cursor ? { cursor } : {}),
      });
      items.push(...page.items);
      next = page.next;
      cursor = next ?? undefined;
    } while (values.all && next !== null && !io.signal?.aborted);

    if (values.json) {
      printJson(io, { items, next });
      return EXIT.ok;
    }
    printJobsTable(io, items);
    if (next !== null) {
      println(io, `more: add --cursor ${next} for the next page, or --all for everything`);
    }
    return EXIT.ok;
  },
};

export function printJobsTable(io: CliIo, jobs: readonly PublicJob[]): void {
  if (jobs.length === 0) {
    println(io, 'no jobs');
    return;
  }
  const now = (io.now ?? Date.now)();
  const rows = jobs.map((job) => [
    job.id,
    job.kind,
    job.state,
    truncate(job.name, 40),
    describeProgress(job),
    formatAge(job.created_at, now),
  ]);
  println(io, renderTable(['ID', 'KIND', 'STATE', 'NAME', 'PROGRESS', 'AGE'], rows));
}

function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; not "${raw}"`, 'jobs');
  }
  return raw as T;
}
