import express, { type Response, Router } from 'express';
import type { EmulatedVideo } from './catalog.js';
import { FaultsError } from './faults.js';

/** What the control endpoints act on: the emulator's own test-facing methods. */
export interface ControlTarget {
  setFaults(patch: unknown): void;
  resetFaults(): void;
  faults(): unknown;
  advanceClock(ms: number): void;
  now(): number;
  stats(): unknown;
  resetStats(): void;
  videos(): EmulatedVideo[];
  video(id: number): EmulatedVideo | undefined;
}

function badRequest(res: Response, message: string, problems?: string[]): void {
  res.status(400).json({ message, ...(problems ? { problems } : {}) });
}

/** `/__emulator/…`: fault switches, clock, introspection. No Gcore auth: it is not Gcore's API. */
export function controlRouter(target: ControlTarget): Router {
  const router = Router();
  router.use(express.json());

  router.get('/faults', (_req, res) => {
    res.json(target.faults());
  });
  router.post('/faults', (req, res) => {
    try {
      target.setFaults(req.body ?? {});
    } catch (error) {
      if (error instanceof FaultsError) return badRequest(res, error.message, error.problems);
      throw error;
    }
    res.json(target.faults());
  });
  router.delete('/faults', (_req, res) => {
    target.resetFaults();
    res.json(target.faults());
  });

  router.get('/stats', (_req, res) => {
    res.json(target.stats());
  });

  router.get('/videos', (_req, res) => {
    res.json(target.videos());
  });
  router.get('/videos/:id', (req, res) => {
    const video = /^\d+$/.test(req.params.id) ? target.video(Number(req.params.id)) : undefined;
    if (video === undefined) res.status(404).json({ message: 'Not found.' });
    else res.json(video);
  });

  router.get('/clock', (_req, res) => {
    res.json({ now: new Date(target.now()).toISOString() });
  });
  router.post('/clock', (req, res) => {
    const advanceMs = (req.body as { advanceMs?: unknown } | undefined)?.advanceMs;
    if (typeof advanceMs !== 'number' || !Number.isFinite(advanceMs)) {
      return badRequest(res, 'expected {"advanceMs": <number>}');
    }
    target.advanceClock(advanceMs);
    res.json({ now: new Date(target.now()).toISOString() });
  });

  // Faults back to the start-up ones and counters to zero; videos and the clock stay.
  router.post('/reset', (_req, res) => {
    target.resetFaults();
    target.resetStats();
    res.json({ faults: target.faults(), stats: target.stats() });
  });

  return router;
}
