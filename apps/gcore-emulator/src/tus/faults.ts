import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import type { EmulatorContext } from '../context.js';
import { type FaultSwitches, isEveryNth, retryAfterHeaders } from '../faults.js';

export type PatchFault = 'too-many-requests' | 'unavailable' | 'drop' | 'stall';

/** Counts a PATCH and says which fault, if any, it meets. */
export function pickPatchFault(faults: FaultSwitches): PatchFault | null {
  const n = faults.nextPatch();
  const f = faults.current;
  if (isEveryNth(n, f.patch429EveryN)) return 'too-many-requests';
  if (isEveryNth(n, f.patch5xxEveryN)) return 'unavailable';
  if (isEveryNth(n, f.patchDropEveryN)) return 'drop';
  if (isEveryNth(n, f.patchStallEveryN)) return 'stall';
  return null;
}

/** A refusal sent before any of the body is read, so the upload's offset stays where it was. */
export function refusePatch(
  res: Response,
  fault: 'too-many-requests' | 'unavailable',
  faults: FaultSwitches,
): void {
  const f = faults.current;
  const headers: Record<string, string> = {
    'Tus-Resumable': '1.0.0',
    'Access-Control-Allow-Origin': '*',
    'Content-Type': 'text/plain; charset=utf-8',
  };
  if (fault === 'too-many-requests') {
    res
      .writeHead(429, { ...headers, ...retryAfterHeaders(f.retryAfter, f.retryAfterMs) })
      .end('Too Many Requests');
  } else {
    res.writeHead(503, headers).end('Service Unavailable');
  }
}

/**
 * Counts a PATCH and applies the fault it meets. Returns `answered` when the request needs nothing
 * more (refused, stalled or dropped outright), else how many body bytes to pass on before dropping
 * the connection (undefined: all of them).
 */
export function applyPatchFaults(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: Response,
): number | undefined | 'answered' {
  ctx.stats.count('patches');
  const fault = pickPatchFault(ctx.faults);
  switch (fault) {
    case 'too-many-requests':
    case 'unavailable':
      ctx.stats.count(fault === 'too-many-requests' ? 'patch429s' : 'patch5xxs');
      refusePatch(res, fault, ctx.faults);
      return 'answered';
    case 'stall':
      // Read nothing, answer nothing: only the client's own timeout ends this request.
      ctx.stats.count('patchStalls');
      req.pause();
      return 'answered';
    case 'drop': {
      ctx.stats.count('patchDrops');
      // Half the body lands, so a resuming client finds partial progress with HEAD.
      const cutAfter = Math.floor(Number(req.headers['content-length'] ?? 2) / 2);
      if (cutAfter > 0) return cutAfter;
      req.socket.destroy();
      return 'answered';
    }
    case null:
      return undefined;
  }
}
