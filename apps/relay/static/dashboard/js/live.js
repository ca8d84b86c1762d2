// Live updates: server-sent events from /api/events, with polling while the stream is down.

const POLL_MS = 5_000;

/**
 * Calls `reload()` whenever the page may have missed changes (stream (re)opened, server asked for
 * a resync, or every 5 s while the stream is down), `onJobs({jobs, removed})` and
 * `onSummary(summary)` as events arrive, and `onStatus('connecting' | 'live' | 'polling')`.
 */
export function connectLive({ reload, onJobs, onSummary, onStatus }) {
  let source = null;
  let pollTimer = null;
  let reopenTimer = null;
  let reopenDelay = 2_000;

  const startPolling = () => {
    onStatus('polling');
    if (pollTimer) return;
    pollTimer = setInterval(() => void reload(), POLL_MS);
  };
  const stopPolling = () => {
    clearInterval(pollTimer);
    pollTimer = null;
  };

  const open = () => {
    reopenTimer = null;
    source = new EventSource('/api/events');
    const parse = (handler) => (event) => {
      try {
        handler(JSON.parse(event.data));
      } catch (error) {
        console.error('dashboard: bad event', error);
      }
    };
    source.addEventListener('ready', () => {
      reopenDelay = 2_000;
      stopPolling();
      onStatus('live');
      void reload();
    });
    source.addEventListener('resync', () => void reload());
    source.addEventListener('jobs', parse(onJobs));
    source.addEventListener('summary', parse(onSummary));
    source.addEventListener('error', () => {
      // CONNECTING: the browser retries by itself; CLOSED: it gave up (e.g. the relay restarted
      // behind a proxy that answered with an error page), so open a new stream later.
      startPolling();
      if (source.readyState === EventSource.CLOSED && !reopenTimer) {
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
      clearTimeout(reopenTimer);
    },
  };
}
