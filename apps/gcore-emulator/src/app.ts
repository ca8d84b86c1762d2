import express, { type ErrorRequestHandler, type Express } from 'express';
import { requireApiKey } from './api/auth.js';
import { apiFaults } from './api/limits.js';
import { videosRouter } from './api/videos.js';
import type { EmulatorContext } from './context.js';
import { type ControlTarget, controlRouter } from './control.js';
import { tusHandler } from './tus/handler.js';
import { TUS_PATH } from './tus/server.js';

/** Gcore's API under `/streaming`, its TUS server under `/upload`, the emulator's controls under `/__emulator`. */
export function createEmulatorApp(ctx: EmulatorContext, control: ControlTarget): Express {
  const app = express();
  app.disable('x-powered-by');
  // Pollers should always get the body, never a 304.
  app.set('etag', false);

  app.use('/__emulator', controlRouter(control));
  // Before any body parser: @tus/server reads upload bodies itself.
  app.use(TUS_PATH, tusHandler(ctx));
  app.use('/streaming', apiFaults(ctx), requireApiKey(ctx.apiKey), videosRouter(ctx));

  app.use((_req, res) => {
    res.status(404).json({ message: 'Not found.' });
  });
  const onError: ErrorRequestHandler = (error: { type?: string; status?: number }, _req, res, _next) => {
    if (error.type === 'entity.parse.failed') {
      res.status(400).json({ message: 'JSON parse error.' });
    } else if (error.type === 'entity.too.large') {
      res.status(413).json({ message: 'Request body too large.' });
    } else {
      ctx.logger.error({ err: error }, 'request failed');
      res.status(500).json({ message: 'Internal server error.' });
    }
  };
  app.use(onError);
  return app;
}
