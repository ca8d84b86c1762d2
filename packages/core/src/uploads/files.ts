import fsSync from 'node:fs';
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

/** Upload files, their info and manifests: the relay's user only (uploads are private videos). */
export const PRIVATE_FILE_MODE = 0o600;
/** `DATA_DIR/uploads` (and any parent the relay creates). */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates (or keeps) a directory readable by the relay's user only, whatever the umask. An existing
 * directory the relay may not chmod (a mount point owned by someone else) is left as it is.
 */
export function ensurePrivateDir(dir: string): void {
  fsSync.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  try {
    fsSync.chmodSync(dir, PRIVATE_DIR_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}

/**
 * Creates upload `id`'s data file and @tus/file-store's info file (`<id>.json`) empty and 0600, so
 * that FileStore's writes over them keep that mode: neither the video nor its metadata is ever
 * readable by other users, whatever the umask. False (nothing created) for an id that would leave
 * `uploadDir`.
 */
export async function createPrivateUploadFiles(uploadDir: string, id: string): Promise<boolean> {
  const paths = uploadPaths(uploadDir, id);
  const inside = path.relative(uploadDir, paths.data);
  if (!inside || inside.startsWith('..') || path.isAbsolute(inside)) return false;
  await createPrivateFile(paths.data);
  await createPrivateFile(paths.info);
  return true;
}

/**
 * Creates an empty file with mode 0600 whatever the umask (the mode given to open() is narrowed by
 * the umask, hence the chmod), or makes an existing one 0600. Files written over it keep the mode.
 */
export async function createPrivateFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'a', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } finally {
    await handle.close();
  }
}
