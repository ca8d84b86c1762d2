// @ts-check
// Live updates: server-sent events from /api/events, with polling while the stream is down.

const POLL_MS = 5_000;

/**
 * @typedef {import('./api.js').PublicJob} PublicJob
 * @typedef {import('./api.js').DashboardSummary} DashboardSummary
 * @typedef {'connecting' | 'live' | 'polling' | 'offline'} LiveStatus
 * @typedef {{jobs?: PublicJob[], removed?: string[]}} JobsEvent
 */

/**
 * Calls `reload()` whenever the page may have missed changes (stream (re)opened, server asked for
 * a resync, or every 5 s while the stream is down), `onJobs({jobs, removed})` and
 * `onSummary(summary)` as events arrive, and `onStatus('connecting' | 'live' | 'polling')`.
 * @param {{
 *   reload: () => Promise<void>,
 *   onJobs: (event: JobsEvent) => void,
 *   onSummary: (summary: DashboardSummary) => void,
 *   onStatus: (status: LiveStatus) => void,
 * }} handlers
 * @returns {{close(): void}}
 */
export function connectLive({ reload, onJobs, onSummary, onStatus }) {
  /** @type {EventSource | null} */
  let source = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  let pollTimer = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let reopenTimer = null;
  let reopenDelay = 2_000;

  const startPolling = () => {
    onStatus('polling');
    if (pollTimer) return;
    pollTimer = setInterval(() => void reload(), POLL_MS);
  };
  const stopPolling = () => {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  };

  const open = () => {
    reopenTimer = null;
    const stream = new EventSource('/api/events');
    source = stream;
    /**
     * @template T
     * @param {(data: T) => void} handler
     * @returns {(event: MessageEvent) => void}
     */
    const parse = (handler) => (event) => {
      try {
        handler(JSON.parse(event.data));
      } catch (error) {
        console.error('dashboard: bad event', error);
      }
    };
    stream.addEventListener('ready', () => {
      reopenDelay = 2_000;
      stopPolling();
      onStatus('live');
      void reload();
    });
    stream.addEventListener('resync', () => void reload());
    stream.addEventListener('jobs', parse(onJobs));
    stream.addEventListener('summary', parse(onSummary));
    stream.addEventListener('error', () => {
      // CONNECTING: the browser retries by itself; CLOSED: it gave up (e.g. the relay restarted
      // behind a proxy that answered with an error page), so open a new stream later.
      startPolling();
      if (stream.readyState === EventSource.CLOSED && !reopenTimer) {
        reopenTimer = setTimeout(open, reopenDelay);
        reopenDelay = Math.min(reopenDelay * 2, 60_000);
      }
    });
  };

  open();
  return {
    close() {
      source?.close();
      stopPolling();
      if (reopenTimer) clearTimeout(reopenTimer);
    },
  };
}
