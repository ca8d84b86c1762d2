import { randomBytes } from 'node:crypto';
import type { RedisClient } from '@gtr/core';
import {
  AppError,
  emptyProgress,
  forEachLimit,
  forwardQueueOf,
  IMPORT_VIAS,
  type JobRecord,
  type JobRepository,
  type Logger,
  type Principal,
  type RelayQueues,
  type ResolveHost,
  sleep,
} from '@gtr/core';
import { ImportClaims, importIdentity } from './idempotency.js';
import { type PreflightResult, preflightOrigin } from './preflight.js';
import { type ImportIntent, readImportRequest } from './validate.js';

export interface ImportSettings {
  /** HEAD the origin before creating the job (`IMPORT_PREFLIGHT`). Default true. */
  preflight: boolean;
  /** Let the pre-flight (and `via: "relay"` downloads) reach private addresses (`IMPORT_ALLOW_PRIVATE`). Default false. */
  allowPrivate: boolean;
  /** Per import, HEAD and fallback GET together. Default 10 000 ms. */
  preflightTimeoutMs?: number;
}

export interface ImporterDeps {
  jobs: JobRepository;
  queues: Pick<RelayQueues, 'forward' | 'import'>;
  redis: RedisClient;
  /** Redis key prefix, as for job records. */
  prefix: string;
  logger: Logger;
  settings: ImportSettings;
  /** `MAX_UPLOAD_SIZE` (0 = none): `via: "relay"` puts the file on the relay's disk. */
  maxUploadSize: number;
  /** Pre-flights running at once in a batch. Default 16. */
  preflightConcurrency?: number;
  /** Name resolution for the SSRF guard (tests map names). Default: the system's. */
  resolve?: ResolveHost;
}

export type ImportOutcome =
  | { index: number; job: JobRecord; created: boolean; error?: never }
  | { index: number; error: AppError; job?: never };

/** Every item with the same identity (normalized URL or idempotency key): one job at most. */
interface Group {
  key: string;
  intent: ImportIntent;
  indexes: number[];
  /** The principal's name: who the new job belongs to. */
  owner: string | null;
  /** The batch a new job joins, or null. */
  batch: string | null;
  /** The id this group's new job gets (once a claim is tried). */
  id?: string;
  /** The job whose claim is taken over (canceled, or vanished), or null. */
  replacing?: string | null;
  checked?: PreflightResult | null;
  job?: JobRecord;
  created?: boolean;
  error?: AppError;
}

// How long a batch waits for another request that holds a URL's claim but has not created its
// job yet (a matter of milliseconds, unless that process died: then the lease runs out).
const WAIT_ROUNDS = 20;
const WAIT_MS = 100;
const CREATE_CONCURRENCY = 256;

/**
 * Turns import requests into queued `import` jobs: validation, pre-flight, one job per
 * normalized origin URL (claimed in Redis), job records and forward-queue entries written in
 * bulk. Single imports are batches of one.
 */
export class Importer {
  private readonly claims: ImportClaims;

  constructor(private readonly deps: ImporterDeps) {
    this.claims = new ImportClaims(deps.redis, deps.prefix);
  }

  /**
   * One outcome per item, in order: the job (new or existing) or the refusal. The jobs are
   * `owner`'s; a tool's imports are idempotent among its own only. New jobs join `batch` (an
   * existing job stays in the batch it has, if any).
   */
  async importMany(
    items: readonly unknown[],
    owner: Principal | null = null,
    options: { batch?: string | null } = {},
  ): Promise<ImportOutcome[]> {
    const started = Date.now();
    const outcomes: ImportOutcome[] = new Array(items.length);
    const groups = new Map<string, Group>();
    items.forEach((item, index) => {
      try {
        const intent = readImportRequest(item, { preflight: this.deps.settings.preflight });
        const key = this.claims.key(importIdentity(intent, owner?.role === 'tool' ? owner.name : null));
        const group = groups.get(key);
        if (group) group.indexes.push(index);
        else
          groups.set(key, {
            key,
            intent,
            indexes: [index],
            owner: owner?.name ?? null,
            batch: options.batch ?? null,
          });
      } catch (error) {
        outcomes[index] = { index, error: asAppError(error) };
      }
    });

    await this.resolve([...groups.values()]);
    await this.enqueue([...groups.values()]);

    let created = 0;
    let existing = 0;
    for (const group of groups.values()) {
      if (group.job) {
        if (group.created) created++;
        else existing++;
      }
      group.indexes.forEach((index, i) => {
        // A URL repeated in the batch is created once: later copies see the job as existing.
        if (group.job)
          outcomes[index] = { index, job: group.job, created: Boolean(group.created) && i === 0 };
        else outcomes[index] = { index, error: group.error ?? internal() };
      });
    }
    this.deps.logger.info(
      {
        items: items.length,
        created,
        existing,
        rejected: outcomes.filter((o) => o.error).length,
        ms: Date.now() - started,
      },
      'imports accepted',
    );
    return outcomes;
  }

  /** Finds or creates the job of every group. */
  private async resolve(groups: Group[]): Promise<void> {
    let pending = groups;
    for (let round = 0; pending.length > 0; round++) {
      if (round > WAIT_ROUNDS) {
        for (const group of pending) {
          group.error = new AppError(
            'IMPORT_IN_PROGRESS',
            'another request is importing this origin_url right now; send it again in a moment',
            409,
            true,
          );
        }
        return;
      }
      if (round > 0) await sleep(WAIT_MS);
      const claims = await this.claims.lookup(pending.map((g) => g.key));
      const ids = [...new Set(claims.flatMap((c) => (c.id ? [c.id] : [])))];
      const records = new Map((await this.deps.jobs.getMany(ids)).map((r) => [r.id, r]));
      const toCreate: Group[] = [];
      const waiting: Group[] = [];
      pending.forEach((group, i) => {
        const claim = claims[i]!;
        const job = claim.id ? records.get(claim.id) : undefined;
        if (claim.id === null) {
          group.replacing = null;
          toCreate.push(group);
        } else if (job && job.state !== 'canceled') {
          group.job = job;
          group.created = false;
        } else if (job || claim.settled) {
          // Canceled (a new import may go ahead), or its record is gone.
          group.replacing = claim.id;
          toCreate.push(group);
        } else {
          waiting.push(group);
        }
      });

      await this.preflight(toCreate.filter((g) => g.checked === undefined));
      const ready = toCreate.filter((g) => !g.error);
      const won = await this.claims.claim(
        ready.map((g) => {
          g.id ??= newJobId();
          return { key: g.key, id: g.id, replacing: g.replacing ?? null };
        }),
      );
      await this.create(ready.filter((_, i) => won[i]));
      pending = [...waiting, ...ready.filter((_, i) => !won[i])];
    }
  }

  private async preflight(groups: Group[]): Promise<void> {
    const { settings } = this.deps;
    if (!settings.preflight) {
      for (const group of groups) group.checked = null;
      return;
    }
    await forEachLimit(groups, this.deps.preflightConcurrency ?? 16, async (group) => {
      try {
        const checked = await preflightOrigin(group.intent, {
          allowPrivate: settings.allowPrivate,
          timeoutMs: settings.preflightTimeoutMs ?? 10_000,
          resolve: this.deps.resolve,
        });
        const limit = this.deps.maxUploadSize;
        if (
          group.intent.request.via === 'relay' &&
          limit > 0 &&
          checked.size !== null &&
          checked.size > limit
        ) {
          throw new AppError(
            'UPLOAD_TOO_LARGE',
            `the origin file is ${checked.size} bytes; with via "relay" the relay accepts at most ${limit}`,
            413,
          );
        }
        group.checked = checked;
      } catch (error) {
        group.error = asAppError(error);
      }
    });
  }

  /** Writes the job records of groups whose claims were won, then makes the claims final. */
  private async create(groups: Group[]): Promise<void> {
    const failed: Group[] = [];
    await forEachLimit(groups, CREATE_CONCURRENCY, async (group) => {
      const { intent, checked } = group;
      try {
        const { record } = await this.deps.jobs.create({
          id: group.id!,
          kind: 'import',
          state: 'queued',
          name: intent.name,
          filename: intent.filename,
          size: checked?.size ?? null,
          origin_url: intent.originUrl,
          request: {
            ...intent.request,
            filetype: checked?.contentType ?? null,
            ...(intent.idempotencyKey !== null ? { idempotency_key: intent.idempotencyKey } : {}),
          },
          progress: emptyProgress(),
          owner: group.owner,
          batch: group.batch,
          batch_index: group.indexes[0] ?? null,
          claim: group.key,
        });
        group.job = record;
        group.created = true;
      } catch (error) {
        this.deps.logger.error({ err: error, jobId: group.id }, 'import job could not be stored');
        group.error = unavailable();
        failed.push(group);
      }
    });
    await this.claims.release(failed.map((g) => ({ key: g.key, id: g.id! }))).catch(() => {});
    await this.claims.settle(groups.filter((g) => g.created).map((g) => ({ key: g.key, id: g.id! })));
  }

  /**
   * Puts the new jobs on the forward queue in one go, and any existing `queued` job that is not
   * there (its request died between writing the record and queueing it).
   */
  private async enqueue(groups: Group[]): Promise<void> {
    for (const via of IMPORT_VIAS) {
      await this.enqueueOn(
        forwardQueueOf(this.deps.queues, 'import', via),
        groups.filter((g) => g.job && (g.job.request.via ?? 'gcore') === via),
      );
    }
  }

  private async enqueueOn(forward: RelayQueues['forward'], groups: Group[]): Promise<void> {
    const fresh = groups.filter((g) => g.created).map((g) => g.job!.id);
    const queued = groups
      .filter((g) => g.job && !g.created && g.job.state === 'queued')
      .map((g) => g.job!.id);
    let missing: string[] = [];
    if (queued.length > 0) {
      const pipeline = this.deps.redis.pipeline();
      for (const id of queued) pipeline.exists(forward.toKey(id));
      const results = (await pipeline.exec()) ?? [];
      missing = queued.filter((_, i) => results[i]?.[1] === 0);
    }
    const ids = [...fresh, ...missing];
    if (ids.length === 0) return;
    try {
      await forward.addBulk(
        ids.map((id) => ({ name: 'import' as const, data: { id }, opts: { jobId: id } })),
      );
    } catch (error) {
      this.deps.logger.error({ err: error, jobs: ids.length }, 'import jobs could not be queued');
      // The records and claims stay: sending the same imports again queues them.
      throw unavailable();
    }
  }
}

export function newJobId(): string {
  // Like TUS upload ids (@tus/server's default naming): 16 random bytes, hex.
  return randomBytes(16).toString('hex');
}

function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  throw error;
}

const unavailable = () =>
  new AppError(
    'QUEUE_UNAVAILABLE',
    'the relay could not store or queue the import right now; send it again (nothing is duplicated)',
    503,
    true,
  );

const internal = () => new AppError('INTERNAL_ERROR', 'the import was not handled', 500);
