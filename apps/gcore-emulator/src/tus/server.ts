import { join } from 'node:path';
import { createPrivateUploadFiles } from '@gtr/core';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { ERRORS, type Upload } from '@tus/utils';
import type { EmulatorContext } from '../context.js';
import { inspectFile } from '../inspect.js';
import { authorizeCreation } from './creation.js';

/** FileStore whose files are 0600 from their creation, whatever the umask (uploads are private videos). */
class PrivateFileStore extends FileStore {
  override async create(upload: Upload): Promise<Upload> {
    if (!(await createPrivateUploadFiles(this.directory, upload.id))) throw ERRORS.FILE_NOT_FOUND;
    return super.create(upload);
  }
}

/** The TUS path Gcore's docs give: `https://{hostname}/upload/`. */
export const TUS_PATH = '/upload';

/** Gcore's upload server on `@tus/server`: creation checked against the token, files processed at the end. */
export function createTusServer(ctx: EmulatorContext): Server {
  return new Server({
    path: TUS_PATH,
    datastore: new PrivateFileStore({ directory: ctx.uploadDir }),
    // Short, so a client that reconnects after a dropped PATCH is not kept waiting for the old one's lock.
    lockDrainTimeout: 500,
    async onUploadCreate(_req, upload) {
      const video = authorizeCreation(ctx, upload);
      ctx.videos.bindUpload(upload.id, video);
      video.tusUploads++;
      return {};
    },
    async onUploadFinish(_req, upload) {
      const video = ctx.videos.videoForUpload(upload.id);
      if (video === undefined || video.deleted) return {};
      const facts = await inspectFile(upload.storage?.path ?? join(ctx.uploadDir, upload.id));
      ctx.processor.accept(video, facts);
      ctx.logger.info({ videoId: video.id, size: facts.size, status: video.status }, 'upload finished');
      return {};
    },
  });
}
