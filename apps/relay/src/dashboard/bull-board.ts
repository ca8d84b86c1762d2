import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RelayQueues } from '@gtr/core';
import type { Router } from 'express';

export const BULL_BOARD_PATH = '/admin/queues';

/** bull-board over the forward, import, track and notify queues (operators may retry, clean and remove there). */
export function bullBoardRouter(
  queues: Pick<RelayQueues, 'forward' | 'import' | 'track' | 'notify'>,
): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [queues.forward, queues.import, queues.track, queues.notify].map(
      (queue) => new BullMQAdapter(queue),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'gcore-tus-relay' } },
  });
  return serverAdapter.getRouter() as Router;
}
