import fs from 'node:fs/promises';
import path from 'node:path';

/** The local copy of an upload: the bytes, @tus/file-store's info, and the relay's record. */
export function uploadPaths(uploadDir: string, id: string): { data: string; info: string; record: string } {
  return {
    data: path.join(uploadDir, id),
    info: path.join(uploadDir, `${id}.json`),
    record: path.join(uploadDir, `${id}.relay.json`),
  };
}

/** Removes an upload's local files; `keepRecord` leaves the `.relay.json` (the job's memory). */
export async function removeUploadFiles(
  uploadDir: string,
  id: string,
  { keepRecord = false } = {},
): Promise<void> {
  const paths = uploadPaths(uploadDir, id);
  await Promise.all([
    fs.rm(paths.data, { force: true }),
    fs.rm(paths.info, { force: true }),
    keepRecord ? Promise.resolve() : fs.rm(paths.record, { force: true }),
  ]);
}
