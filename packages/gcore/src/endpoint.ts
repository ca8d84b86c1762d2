import { GcoreError } from './errors.js';
import type { UploadParams, UploadServer } from './types.js';

export interface ChooseEndpointOptions {
  /**
   * Hostnames (or endpoint URLs) to avoid, e.g. a server that just failed. Ignored when it would
   * leave nothing: any listed server accepts uploads, so a suspect one beats none.
   */
  exclude?: string[];
}

/**
 * The TUS endpoint to upload to: `https://{hostname}/upload/`, or `http://` when the server says
 * `ssl: false`. Active servers come first, in Gcore's order, then the others.
 */
export function chooseUploadEndpoint(params: UploadParams, options: ChooseEndpointOptions = {}): string {
  const servers = (params.servers ?? []).filter((s) => typeof s?.hostname === 'string' && s.hostname !== '');
  if (servers.length === 0) {
    throw new GcoreError('GCORE_NO_UPLOAD_SERVER', 'Gcore returned no upload servers for this video', {
      retryable: false,
    });
  }
  const ordered = [...servers.filter((s) => s.active === true), ...servers.filter((s) => s.active !== true)];
  const excluded = new Set(options.exclude ?? []);
  const allowed = ordered.filter((s) => !excluded.has(s.hostname) && !excluded.has(uploadEndpoint(s)));
  return uploadEndpoint(allowed[0] ?? ordered[0]!);
}

/** The TUS endpoint of one server. */
export function uploadEndpoint(server: UploadServer): string {
  return `${server.ssl === false ? 'http' : 'https'}://${server.hostname}/upload/`;
}
