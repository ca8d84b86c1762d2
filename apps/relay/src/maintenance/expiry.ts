import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobStore, Logger, UploadRecords } from '@gtr/core';
import type { RelayFileStore } from '../ingest/store.js';

export interface ExpiryDeps {
  uploadDir: string;
  expiryMs: number;
  jobs: JobStore;
  records: UploadRecords;
  store: RelayFileStore;
  logger: Logger;
  now?: () => number;
}

/**
 * Removes unfinished uploads older than UPLOAD_EXPIRY. A finished upload is never touched here:
 * it stays until it has been forwarded (the worker removes it then).
 */
export async function expireUploads(deps: ExpiryDeps): Promise<number> {
  const now = (deps.now ?? Date.now)();
  let names: string[];
  try {
    names = await fs.readdir(deps.uploadDir);
  } catch {
    return 0;
  }
  const infoIds = names
    .filter((n) => n.endsWith('.json') && !n.endsWith('.relay.json'))
    .map((n) => n.slice(0, -'.json'.length));
  let removed = 0;
  for (const id of infoIds) {
    const upload = await deps.store.getUpload(id).catch(() => null);
    const record = await deps.records.read(id).catch(() => null);
    if (record?.completed_at) continue;
    if (upload && upload.size !== undefined && upload.offset === upload.size) continue;
    const created = upload?.creation_date
      ? Date.parse(upload.creation_date)
      : (await fs.stat(path.join(deps.uploadDir, `${id}.json`)).catch(() => null))?.mtimeMs;
    if (created === undefined || Number.isNaN(created) || now - created < deps.expiryMs) continue;
    await deps.store.discard(id);
    await deps.records.remove(id);
    await deps.jobs
      .update(
        id,
        {
          state: 'failed',
          error: {
            code: 'UPLOAD_EXPIRED',
            message:
              'the upload was not finished within UPLOAD_EXPIRY and was removed; upload the file again',
            retryable: false,
          },
        },
        { onlyFrom: ['receiving'] },
      )
      .catch(() => {});
    removed++;
  }
  if (removed) deps.logger.info({ removed }, 'expired unfinished uploads');
  return removed;
}
