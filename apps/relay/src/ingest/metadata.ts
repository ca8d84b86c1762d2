import { checkVideoFormat } from '@gtr/contract';
import { AppError, type JobRequest, parseVideoRequest } from '@gtr/core';

export interface UploadIntent {
  name: string;
  filename: string;
  request: JobRequest;
  /** The batch to join (`batch`), or null. */
  batch: string | null;
}

const BATCH_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Reads an upload's `Upload-Metadata` as the contract describes, or throws the AppError that
 * refuses it: no filename 400, not a video format 415, a bad field value 400.
 */
export function readUploadMetadata(metadata: Record<string, string | null> | undefined): UploadIntent {
  const meta = metadata ?? {};
  const filename = meta.filename?.trim();
  if (!filename) {
    throw new AppError('MISSING_FILENAME', 'Upload-Metadata must carry a filename', 400);
  }
  if (filename.length > 1_024) {
    throw new AppError('INVALID_FIELD', 'filename must be at most 1024 characters', 400);
  }
  const filetype = meta.filetype?.trim() || null;
  const verdict = checkVideoFormat(filename, filetype);
  if (!verdict.ok) {
    throw new AppError('UNSUPPORTED_FORMAT', verdict.reason, 415);
  }
  const parsed = parseVideoRequest(meta);
  const batch = meta.batch?.trim() || null;
  if (batch !== null && !BATCH_ID.test(batch)) {
    throw new AppError('INVALID_FIELD', 'batch must be the id of a batch (POST /api/batches)', 400);
  }
  return {
    batch,
    name: parsed.name ?? defaultName(filename),
    filename,
    request: {
      description: parsed.description,
      filetype,
      fields: parsed.fields,
      callback_url: parsed.callback_url,
      via: 'gcore',
    },
  };
}

function defaultName(filename: string): string {
  const base = filename.split(/[/\\]/).pop() ?? filename;
  const dot = base.lastIndexOf('.');
  return (dot > 0 ? base.slice(0, dot) : base).slice(0, 255) || base;
}
