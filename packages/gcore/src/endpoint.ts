import { GcoreError } from './errors.js';
import type { UploadParams, UploadServer } from './types.js';

export interface ChooseEndpointOptions {
  /**
   * Hostnames (or endpoint URLs) to avoid, e.g. a server that just failed. Ignored when it would
   * leave nothing: any listed server accepts uploads, so a suspect one beats none.
   */
  exclude?: string[];
  /**
   * Follow `ssl: false` servers to plain `http://`. Default false: such servers are skipped, and
   * a list of nothing else is refused (GCORE_INSECURE_UPLOAD_SERVER). Only the emulator's loopback
   * servers (or GCORE_ALLOW_INSECURE_UPLOAD) need it.
   */
  allowInsecure?: boolean;
}

/**
 * The TUS endpoint to upload to: `https://{hostname}/upload/`, the template Gcore documents
 * (G-Core/product-documentation `streaming-platform/video-hosting/upload-video-via-api.mdx`, and the
 * `get_parameters_for_direct_upload` docstring in G-Core/gcore-python
 * `src/gcore/resources/streaming/videos/videos.py`). No Gcore source turns `ssl: false` into
 * `http://`; that is the emulator's convention for its loopback server, and following it to a real
 * host would send the upload token in clear text, so it is done only with `allowInsecure`.
 * Active servers come first, in Gcore's order, then the others.
 */
export function chooseUploadEndpoint(params: UploadParams, options: ChooseEndpointOptions = {}): string {
  const listed = (params.servers ?? []).filter((s) => typeof s?.hostname === 'string' && s.hostname !== '');
  if (listed.length === 0) {
    throw new GcoreError('GCORE_NO_UPLOAD_SERVER', 'Gcore returned no upload servers for this video', {
      retryable: false,
    });
  }
  const servers = options.allowInsecure ? listed : listed.filter((s) => s.ssl !== false);
  if (servers.length === 0) {
    throw new GcoreError(
      'GCORE_INSECURE_UPLOAD_SERVER',
      `Gcore offered only upload servers without TLS (ssl: false: ${listed.map((s) => s.hostname).join(', ')}); ` +
        'the relay does not send an upload token in clear text (GCORE_ALLOW_INSECURE_UPLOAD=true allows it)',
      { retryable: false },
    );
  }
  const ordered = [...servers.filter((s) => s.active === true), ...servers.filter((s) => s.active !== true)];
  const excluded = new Set(options.exclude ?? []);
  const allowed = ordered.filter((s) => !excluded.has(s.hostname) && !excluded.has(uploadEndpoint(s)));
  return uploadEndpoint(allowed[0] ?? ordered[0]!);
}

/** The TUS endpoint of one server (`http://` for `ssl: false`: callers decide whether to allow it). */
export function uploadEndpoint(server: UploadServer): string {
  return `${server.ssl === false ? 'http' : 'https'}://${server.hostname}/upload/`;
}
