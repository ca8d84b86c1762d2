/**
 * `pnpm bench [--quick] [--only ingest,forward,memory,latency,queue,scale,checksum,paced,migration]`: the relay against
 * what a team could use instead, side by side in one run. Writes bench/results/<mode>.json and the
 * tables in BENCHMARKS.md; a run of some sections only replaces their rows in the previous results
 * of its mode and keeps the others. Not a test: nothing here fails on a slow number.
 */
import { mkdir, readFile, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRedis } from '@gtr/core';
import { removeScratch, WORK_ROOT } from './lib/files.js';
import { type DiskSpeed, describeMachine, measureDisk } from './lib/machine.js';
import { killAll, ROOT } from './lib/proc.js';
import { nodeArgs, redisUrl } from './lib/stack.js';
import { GiB, round } from './lib/stats.js';
import { type Mode, planFor } from './plan.js';
import { writeBenchmarksMd } from './report/markdown.js';
import type { Figure, Results } from './report/results.js';
import { CHECKSUM_SECTION, checksum } from './sections/checksum.js';
import type { BenchContext } from './sections/context.js';
import { type ForwardResult, forward } from './sections/forward.js';
import { type IngestResult, ingest } from './sections/ingest.js';
import { latency } from './sections/latency.js';
import { memory } from './sections/memory.js';
import { MIGRATION_SECTION, migration } from './sections/migration.js';
import { PACED_SECTION, paced } from './sections/paced.js';
import { queue } from './sections/queue.js';
import { SCALE_SECTION, scale } from './sections/scale.js';

const SECTIONS = [
  'ingest',
  'forward',
  'memory',
  'latency',
  'queue',
  'scale',
  'checksum',
  'paced',
  'migration',
] as const;
type Section = (typeof SECTIONS)[number];

/** The table rows (`Figure.section`) each section writes; "7. CPU" is made from ingest and forward. */
const FIGURE_LABELS: Record<Section, string[]> = {
  ingest: ['1. Ingest'],
  forward: ['2. Forward', '3. End to end'],
  memory: ['4. Memory'],
  latency: ['5. Latency'],
  queue: ['6. Queue scale'],
  scale: [SCALE_SECTION],
  checksum: [CHECKSUM_SECTION],
  paced: [PACED_SECTION],
  migration: [MIGRATION_SECTION],
};
const CPU_LABEL = '7. CPU';

function parseArgs(argv: string[]): { mode: Mode; only: Set<Section> } {
  const mode: Mode = argv.includes('--quick') ? 'quick' : 'full';
  const onlyArg = argv.find((a) => a.startsWith('--only'));
  const value = onlyArg?.includes('=')
    ? onlyArg.split('=')[1]
    : onlyArg
      ? argv[argv.indexOf(onlyArg) + 1]
      : undefined;
  const only = new Set<Section>(value ? (value.split(',') as Section[]) : SECTIONS);
  for (const s of only)
    if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}; known: ${SECTIONS.join(', ')}`);
  return { mode, only };
}

async function redisAnswers(): Promise<boolean> {
  const redis = createRedis(redisUrl(), { role: 'client' });
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(0)} s`;
}

async function main(): Promise<number> {
  const { mode, only } = parseArgs(process.argv.slice(2));
  const plan = planFor(mode);
  const t0 = performance.now();
  const log = (message: string) => console.log(`[bench ${elapsed(t0).padStart(5)}] ${message}`);

  if (!(await redisAnswers())) {
    console.error(
      `Redis does not answer at ${redisUrl()}: start one (see README, "Redis") or set REDIS_URL.`,
    );
    return 1;
  }
  await mkdir(WORK_ROOT, { recursive: true });
  const fsStats = await statfs(WORK_ROOT);
  const freeGiB = (fsStats.bavail * fsStats.bsize) / GiB;
  const needGiB = mode === 'full' ? 12 : 2;
  if (freeGiB < needGiB) {
    console.error(
      `Only ${freeGiB.toFixed(1)} GiB free under ${WORK_ROOT}; the ${mode} bench needs about ${needGiB} GiB.`,
    );
    return 1;
  }

  const results: Results = {
    mode,
    startedAt: new Date().toISOString(),
    wallSeconds: 0,
    machine: describeMachine(WORK_ROOT),
    disk: null,
    figures: [],
    sections: {},
    errors: {},
    notes: [],
  };
  const ctx: BenchContext = {
    plan,
    log,
    figure: (figure: Figure) => results.figures.push(figure),
    note: (text) => results.notes.push(text),
    sections: results.sections,
  };
  const resultsDir = path.join(ROOT, 'bench', 'results');
  const jsonFile = path.join(resultsDir, `${mode}.json`);
  // Some sections only: the others' results stay as the last run of this mode left them.
  const partial = SECTIONS.some((s) => !only.has(s));
  const previous = partial
    ? (JSON.parse(await readFile(jsonFile, 'utf8').catch(() => 'null')) as Results | null)
    : null;
  // A section compares with others' results (end to end with ingest alone): those not run now are
  // the previous run's.
  for (const [key, value] of Object.entries(previous?.sections ?? {}))
    if (!only.has(key as Section)) results.sections[key] = value;
  for (const app of ['relay', 'worker'] as const) {
    const flags = nodeArgs(app).join(' ');
    const from =
      process.env[`BENCH_${app.toUpperCase()}_NODE_ARGS`] === undefined
        ? `as \`pnpm start:${app}\` does`
        : `BENCH_${app.toUpperCase()}_NODE_ARGS`;
    ctx.note(
      `The ${app} processes ran as \`node ${flags ? `${flags} ` : ''}apps/${app}/dist/main.js\` (${from}).`,
    );
  }
  log(
    `${mode} run: ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}`,
  );

  let disk: DiskSpeed | null = null;
  try {
    disk = await measureDisk(WORK_ROOT, plan.bigBytes);
    results.disk = disk;
    log(`disk: ${disk.command}: ${disk.seconds} s, ${disk.mbPerSecond} MB/s`);
  } catch (error) {
    results.errors.disk = String(error);
  }

  const runners: Record<Section, () => Promise<unknown>> = {
    ingest: () => ingest(ctx, disk),
    forward: () => forward(ctx),
    memory: () => memory(ctx),
    latency: () => latency(ctx),
    queue: () => queue(ctx),
    scale: () => scale(ctx),
    checksum: () => checksum(ctx),
    paced: () => paced(ctx),
    migration: () => migration(ctx),
  };
  for (const section of SECTIONS) {
    if (!only.has(section)) continue;
    const started = performance.now();
    log(`— ${section}`);
    try {
      results.sections[section] = await runners[section]();
      log(`— ${section} done in ${elapsed(started)}`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      results.errors[section] = message;
      log(`— ${section} FAILED: ${message}`);
    }
  }
  if (!previous || only.has('ingest') || only.has('forward')) {
    const sections = { ...previous?.sections, ...results.sections };
    cpuFigures(
      ctx,
      sections.ingest as IngestResult | undefined,
      sections.forward as ForwardResult | undefined,
    );
  }

  results.wallSeconds = round((performance.now() - t0) / 1000, 1);
  results.figures = byNumber(results.figures);
  const written = previous ? mergeRuns(previous, results, only) : results;
  await mkdir(resultsDir, { recursive: true });
  await writeFile(jsonFile, `${JSON.stringify(written, null, 2)}\n`);
  const read = async (m: Mode) =>
    m === mode
      ? written
      : (JSON.parse(
          await readFile(path.join(resultsDir, `${m}.json`), 'utf8').catch(() => 'null'),
        ) as Results | null);
  await writeBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), {
    full: await read('full'),
    quick: await read('quick'),
  });

  console.log('');
  for (const f of results.figures) {
    const verdict = f.met === null ? '' : f.met ? '  [met]' : '  [MISSED]';
    console.log(
      `${f.section} — ${f.what}\n    relay ${f.relay}${f.anchor ? ` | anchor ${f.anchor}` : ''}${f.ratio === null ? '' : ` | ratio ${f.ratio}`}${f.target ? ` | target ${f.target}` : ''}${verdict}`,
    );
  }
  log(`wrote ${path.relative(ROOT, jsonFile)} and BENCHMARKS.md; wall time ${results.wallSeconds} s`);
  return Object.keys(results.errors).length > 0 ? 1 : 0;
}

/** Figures in the order of their section numbers ("1. Ingest" … "10. Paced"), stable within one. */
function byNumber(figures: Figure[]): Figure[] {
  const number = (f: Figure) => Number.parseInt(f.section, 10) || Number.MAX_SAFE_INTEGER;
  return figures
    .map((f, i) => ({ f, i }))
    .sort((a, b) => number(a.f) - number(b.f) || a.i - b.i)
    .map(({ f }) => f);
}

/**
 * The previous results of this mode with the sections just run put in: their rows, raw results,
 * errors and notes (a note belongs to a section when it starts with one of its labels and ":")
 * replace the old ones; heading, machine and disk stay the previous run's, and a note per section
 * says when it was measured again.
 */
function mergeRuns(previous: Results, current: Results, only: Set<Section>): Results {
  const replaced = new Set([...only].flatMap((s) => FIGURE_LABELS[s]));
  if (only.has('ingest') || only.has('forward')) replaced.add(CPU_LABEL);
  const ownNote = (note: string) => [...replaced].some((label) => note.startsWith(`${label}:`));
  const errors = Object.fromEntries(
    Object.entries(previous.errors).filter(([key]) => !only.has(key as Section)),
  );
  const rerun = [...only].map(
    (s) =>
      `${FIGURE_LABELS[s][0]}: measured again on its own (\`pnpm bench${current.mode === 'quick' ? ' --quick' : ''} --only ${[...only].join(',')}\`, ${current.startedAt}, ${Math.round(current.wallSeconds)} s wall); the other rows are from the run in the heading.`,
  );
  const notes = [...previous.notes.filter((n) => !ownNote(n)), ...rerun, ...current.notes];
  return {
    ...previous,
    figures: byNumber([...previous.figures.filter((f) => !replaced.has(f.section)), ...current.figures]),
    sections: { ...previous.sections, ...current.sections },
    errors: { ...errors, ...current.errors },
    notes: [...new Set(notes)],
  };
}

/** 7. CPU seconds per GiB, from the ingest and forward runs. */
function cpuFigures(ctx: BenchContext, ingestResult?: IngestResult, forwardResult?: ForwardResult): void {
  if (ingestResult) {
    for (const [key, label] of [
      ['onePatch', 'one PATCH'],
      ['chunked', '10 MB chunks'],
    ] as const) {
      const c = ingestResult.cases[key];
      ctx.figure({
        section: '7. CPU',
        what: `CPU seconds per GiB ingested (${label}): relay process vs bare @tus/server process`,
        relay: `${c.relayCpuPerGiB.toFixed(2)} s/GiB`,
        anchor: `${c.bareCpuPerGiB.toFixed(2)} s/GiB`,
        ratio: c.bareCpuPerGiB > 0 ? round(c.relayCpuPerGiB / c.bareCpuPerGiB) : null,
        target: 'report',
        met: null,
      });
      if (c.noHashCpuPerGiB !== undefined) {
        ctx.figure({
          section: '7. CPU',
          what: `CPU seconds per GiB ingested (${label}): relay vs the relay with SHA-256 while receiving off`,
          relay: `${c.relayCpuPerGiB.toFixed(2)} s/GiB`,
          anchor: `${c.noHashCpuPerGiB.toFixed(2)} s/GiB`,
          ratio: c.noHashCpuPerGiB > 0 ? round(c.relayCpuPerGiB / c.noHashCpuPerGiB) : null,
          target: 'report',
          met: null,
        });
      }
    }
  }
  if (ingestResult && forwardResult) {
    const fresh = ingestResult.cases.onePatch.relayCpuPerGiB;
    ctx.figure({
      section: '7. CPU',
      what: 'relay CPU seconds per GiB ingested (one PATCH) inside the end-to-end runs (relay up for a while) vs in the ingest runs',
      relay: `${forwardResult.endToEnd.relayCpuPerGiB.toFixed(2)} s/GiB`,
      anchor: `${fresh.toFixed(2)} s/GiB`,
      ratio: fresh > 0 ? round(forwardResult.endToEnd.relayCpuPerGiB / fresh) : null,
      target: 'report (see "GC storms")',
      met: null,
    });
  }
  if (forwardResult) {
    ctx.figure({
      section: '7. CPU',
      what: 'CPU seconds per GiB forwarded: worker process vs the tus-js-client script process',
      relay: `${forwardResult.workerCpuPerGiB.toFixed(2)} s/GiB`,
      anchor: `${forwardResult.anchorCpuPerGiB.toFixed(2)} s/GiB`,
      ratio:
        forwardResult.anchorCpuPerGiB > 0
          ? round(forwardResult.workerCpuPerGiB / forwardResult.anchorCpuPerGiB)
          : null,
      target: 'report',
      met: null,
    });
  }
}

let cleaning = false;
async function cleanUp(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  killAll();
  await removeScratch().catch(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the bench processes and removing scratch files`);
    void cleanUp().then(() => process.exit(130));
  });
}

main()
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    console.error(error);
    await cleanUp();
    process.exit(1);
  });
