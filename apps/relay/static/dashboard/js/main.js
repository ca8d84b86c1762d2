// @ts-check
import { JOB_KINDS, JOB_STATES, jobWords, matchesWords, searchWords } from '../contract/index.js';
import { ApiError, cancelJob, getBatch, getSummary, listJobs, retryJob } from './api.js';
import { startBatchView } from './batches.js';
import { byId, h, setText } from './dom.js';
import { formatCount, formatRate } from './format.js';
import { connectLive } from './live.js';
import { renderOpenUploads } from './open-uploads.js';
import { refreshAges, renderRow, STATES } from './render.js';

/**
 * @typedef {import('./api.js').PublicJob} PublicJob
 * @typedef {import('./api.js').JobState} JobState
 * @typedef {import('./api.js').JobKind} JobKind
 * @typedef {import('./api.js').DashboardSummary} DashboardSummary
 * @typedef {import('./live.js').LiveStatus} LiveStatus
 * @typedef {import('./live.js').JobsEvent} JobsEvent
 * @typedef {{state: JobState | '', kind: JobKind | '', owner: string, q: string, batch: string}} Filters
 */

const PAGE_SIZE = 100;
const BATCH_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Typing pauses this long before the relay is asked. */
const SEARCH_DELAY_MS = 250;

const view = {
  /** @type {Map<string, PublicJob>} id → job, the jobs loaded for the current state/kind filter. */
  jobs: new Map(),
  /** @type {string | null} Cursor of the next older page, or null when everything is loaded. */
  next: null,
  /** @type {Filters} */
  filters: { state: '', kind: '', owner: '', q: '', batch: '' },
  /** @type {string[]} The words of `filters.q`, for live changes (the relay answers the list itself). */
  words: [],
  /** @type {Set<string>} */
  busy: new Set(),
  loaded: false,
  loadSeq: 0,
  /** @type {DashboardSummary | null} */
  summary: null,
  /** @type {LiveStatus} */
  liveStatus: 'connecting',
};
/**
 * @type {Map<string, {tr: HTMLTableRowElement, job: PublicJob, busy: boolean}>} id → row: rows are
 * rebuilt only when their job changed.
 */
const rows = new Map();

const tbody = byId('job-rows');
/** @type {HTMLInputElement} */
const search = byId('search');
/** @type {HTMLSelectElement} */
const kindSelect = byId('filter-kind');
/** @type {HTMLSelectElement} */
const ownerSelect = byId('filter-owner');

/**
 * @template {string} T
 * @param {readonly T[]} values
 * @param {string} value
 * @returns {value is T}
 */
const isOneOf = (values, value) => /** @type {readonly string[]} */ (values).includes(value);

// ---- filters -------------------------------------------------------------------------------

// The list is the relay's answer to the filters; these decide only what a live change does to it.
/** @param {PublicJob} job */
const matchesFilters = (job) =>
  (!view.filters.state || job.state === view.filters.state) &&
  (!view.filters.kind || job.kind === view.filters.kind) &&
  (!view.filters.owner || job.owner === view.filters.owner) &&
  (!view.filters.batch || job.batch === view.filters.batch);

/**
 * Whether a job the list does not hold yet matches the search, by the relay's rules. The page
 * sees less than the relay (a video id before `video` is set): a job the relay answered stays.
 * @param {PublicJob} job
 */
const matchesSearch = (job) =>
  view.words.length === 0 || matchesWords(jobWords({ ...job, videoId: job.video?.id ?? null }), view.words);

// Ties keep the relay's order (the sort is stable and the map holds the list as the API gave it).
/** @type {(a: PublicJob, b: PublicJob) => number} */
const newestFirst = (a, b) => (a.created_at === b.created_at ? 0 : a.created_at < b.created_at ? 1 : -1);

function visibleJobs() {
  return [...view.jobs.values()].filter(matchesFilters).sort(newestFirst);
}

function readFiltersFromUrl() {
  const params = new URLSearchParams(location.search);
  const state = params.get('state') ?? '';
  const kind = params.get('kind') ?? '';
  view.filters.state = isOneOf(JOB_STATES, state) ? state : '';
  view.filters.kind = isOneOf(JOB_KINDS, kind) ? kind : '';
  search.value = params.get('q') ?? '';
  view.filters.q = search.value.trim();
  view.words = searchWords(view.filters.q);
  kindSelect.value = view.filters.kind;
  view.filters.owner = params.get('owner') ?? '';
  const batch = params.get('batch') ?? '';
  view.filters.batch = BATCH_ID.test(batch) ? batch : '';
}

function writeFiltersToUrl() {
  const params = new URLSearchParams();
  if (view.filters.state) params.set('state', view.filters.state);
  if (view.filters.kind) params.set('kind', view.filters.kind);
  if (view.filters.owner) params.set('owner', view.filters.owner);
  if (view.filters.batch) params.set('batch', view.filters.batch);
  if (search.value.trim()) params.set('q', search.value.trim());
  const query = params.toString();
  history.replaceState(null, '', query ? `?${query}` : location.pathname);
}

// ---- loading -------------------------------------------------------------------------------

/** Loads the newest page for the current filters (and the header numbers). */
async function reload() {
  const seq = ++view.loadSeq;
  try {
    const [page, summary] = await Promise.all([
      listJobs({ ...view.filters, limit: PAGE_SIZE }),
      getSummary().catch(() => null),
    ]);
    if (seq !== view.loadSeq) return;
    const fresh = new Map();
    for (const job of page.items) fresh.set(job.id, newer(view.jobs.get(job.id), job));
    view.jobs = fresh;
    view.next = page.next;
    view.loaded = true;
    if (summary) applySummary(summary);
    if (view.liveStatus === 'offline') setLiveStatus('polling');
    render();
  } catch (error) {
    if (seq !== view.loadSeq) return;
    if (error instanceof ApiError && error.status === 0) setLiveStatus('offline');
    else toast(`Could not load jobs: ${messageOf(error)}`, 'error');
  }
}

async function loadOlder() {
  if (!view.next) return;
  /** @type {HTMLButtonElement} */
  const button = byId('load-more');
  button.disabled = true;
  const seq = view.loadSeq;
  try {
    const page = await listJobs({ ...view.filters, limit: PAGE_SIZE, cursor: view.next });
    if (seq !== view.loadSeq) return;
    for (const job of page.items) view.jobs.set(job.id, newer(view.jobs.get(job.id), job));
    view.next = page.next;
    render();
  } catch (error) {
    toast(`Could not load older jobs: ${messageOf(error)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

/**
 * Of two copies of a job, the one changed last (a list and an event may cross on the way).
 * @type {(a: PublicJob | undefined, b: PublicJob) => PublicJob}
 */
const newer = (a, b) => (a && a.updated_at > b.updated_at ? a : b);

/**
 * Live changes: merge into what is loaded, as if the list had been fetched again.
 * @param {JobsEvent} event
 */
function applyJobs({ jobs = [], removed = [] }) {
  const oldest = [...view.jobs.values()].reduce(
    (/** @type {string | null} */ min, j) => (min && min < j.created_at ? min : j.created_at),
    null,
  );
  for (const job of jobs) {
    const current = view.jobs.get(job.id);
    if (current) {
      if (current.updated_at > job.updated_at) continue;
      if (matchesFilters(job)) view.jobs.set(job.id, job);
      else view.jobs.delete(job.id);
    } else if (
      matchesFilters(job) &&
      matchesSearch(job) &&
      (view.next === null || (oldest !== null && job.created_at >= oldest))
    ) {
      view.jobs.set(job.id, job);
    }
  }
  for (const id of removed) view.jobs.delete(id);
  scheduleRender();
}

// ---- rendering -----------------------------------------------------------------------------

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  const now = Date.now();
  const list = visibleJobs();
  const keep = new Set();
  /** @type {HTMLTableRowElement | null} */
  let previous = null;
  for (const job of list) {
    let entry = rows.get(job.id);
    const busy = view.busy.has(job.id);
    if (!entry || entry.job !== job || entry.busy !== busy) {
      const tr = renderRow(job, now, busy);
      if (entry) {
        if (entry.job.state !== job.state) tr.classList.add('flash');
        const active = document.activeElement;
        const focused =
          active instanceof HTMLElement && entry.tr.contains(active) ? active.dataset.action : null;
        entry.tr.replaceWith(tr);
        if (focused) {
          const again = /** @type {HTMLElement | null} */ (tr.querySelector(`[data-action="${focused}"]`));
          (again ?? search).focus();
        }
      }
      entry = { tr, job, busy };
      rows.set(job.id, entry);
    }
    keep.add(job.id);
    /** @type {ChildNode | null} */
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (entry.tr !== expected) tbody.insertBefore(entry.tr, expected);
    previous = entry.tr;
  }
  for (const [id, entry] of rows) {
    if (!keep.has(id)) {
      entry.tr.remove();
      rows.delete(id);
    }
  }
  renderListInfo(list.length);
}

/** @param {number} shown */
function renderListInfo(shown) {
  const filtered = Boolean(view.filters.state || view.filters.kind || view.filters.q || view.filters.batch);
  const empty = byId('empty');
  empty.hidden = !view.loaded || shown > 0;
  setText(byId('empty-title'), filtered ? 'No jobs match' : 'No jobs yet');
  setText(
    byId('empty-hint'),
    filtered
      ? 'Try another state or kind, or clear the search.'
      : 'Uploads and imports appear here the moment they start.',
  );
  const more = view.next ? ' · older ones on the relay: load them below' : '';
  let count = '';
  if (view.loaded && view.filters.q) {
    // The relay searched every job; what is shown are its newest matches.
    count = `${formatCount(shown)} ${shown === 1 ? 'match' : 'matches'}${more}`;
  } else if (view.loaded) {
    count = `${formatCount(shown)} ${shown === 1 ? 'job' : 'jobs'}${more}`;
  }
  setText(byId('list-count'), count);
  byId('load-more').hidden = !view.next;
  const stateInfo = STATES.find((s) => s.id === view.filters.state);
  const kindLabel = view.filters.kind ? KIND_LABELS[view.filters.kind] : 'jobs';
  setText(
    byId('jobs-title'),
    stateInfo ? `${stateInfo.label} ${kindLabel}` : view.filters.kind ? `All ${kindLabel}` : 'All jobs',
  );
  byId('batch-filter').hidden = !view.filters.batch;
}

/** The name of the batch the list is narrowed to, looked up once per batch. */
async function showBatchName() {
  const id = view.filters.batch;
  if (!id) return;
  setText(byId('batch-filter-name'), batchNames.get(id) ?? id);
  if (batchNames.has(id)) return;
  const batch = await getBatch(id).catch(() => null);
  if (batch) batchNames.set(id, batch.name);
  if (view.filters.batch === id) setText(byId('batch-filter-name'), batch?.name ?? id);
}
/** @type {Map<string, string>} */
const batchNames = new Map();

/** @type {Record<JobKind, string>} */
const KIND_LABELS = { upload: 'uploads', import: 'imports' };

function buildStateFilters() {
  const group = byId('state-filters');
  /** @type {(id: JobState | '', label: string) => HTMLButtonElement} */
  const chip = (id, label) =>
    h(
      'button',
      { type: 'button', class: `chip${id ? ` chip-${id}` : ''}`, dataset: { filterState: id } },
      h('span', { class: 'chip-label', text: label }),
      h('span', { class: 'chip-count', dataset: { countFor: id || 'all' }, text: '–' }),
    );
  group.replaceChildren(chip('', 'All'), ...STATES.map((s) => chip(s.id, s.label)));
  group.addEventListener('click', (event) => {
    const button = targetOf(event)?.closest('button[data-filter-state]');
    if (!(button instanceof HTMLButtonElement)) return;
    const state = button.dataset.filterState ?? '';
    const known = isOneOf(JOB_STATES, state) ? state : '';
    setFilter({ state: known === view.filters.state ? '' : known });
  });
  markActiveChip();
}

function markActiveChip() {
  for (const button of byId('state-filters').querySelectorAll('button[data-filter-state]')) {
    if (!(button instanceof HTMLButtonElement)) continue;
    button.setAttribute('aria-pressed', String(button.dataset.filterState === view.filters.state));
  }
}

/**
 * The owner filter lists the configured tokens' names (and the one in the URL, if another).
 * @param {readonly string[]} owners
 */
function fillOwners(owners) {
  const wanted = [...new Set([...owners, ...(view.filters.owner ? [view.filters.owner] : [])])].sort();
  const shown = [...ownerSelect.options].slice(1).map((o) => o.value);
  if (wanted.join('\n') !== shown.join('\n')) {
    ownerSelect.replaceChildren(
      h('option', { value: '', text: 'Every owner' }),
      ...wanted.map((name) => h('option', { value: name, text: name })),
    );
  }
  ownerSelect.value = view.filters.owner;
}

/** @param {DashboardSummary} summary */
function applySummary(summary) {
  view.summary = summary;
  fillOwners(summary.owners ?? []);
  for (const el of document.querySelectorAll('[data-count-for]')) {
    if (!(el instanceof HTMLElement)) continue;
    const key = el.dataset.countFor ?? '';
    const count = isOneOf(JOB_STATES, key) ? (summary.counts[key] ?? 0) : 0;
    setText(el, formatCount(key === 'all' ? summary.total : count));
    el.closest('.chip')?.classList.toggle('chip-zero', key !== 'all' && !count);
  }
  setText(byId('m-throughput'), formatRate(summary.stats.forward_bytes_per_sec));
  setText(byId('m-429'), formatCount(summary.stats.rate_limited_last_minute));
  byId('m-429-box').classList.toggle('metric-warn', summary.stats.rate_limited_last_minute > 0);
  const q = summary.queue;
  setText(byId('m-queue'), formatCount(q.depth));
  setText(byId('m-queue-detail'), `${q.waiting} waiting · ${q.active} active · ${q.delayed} delayed`);
  const upstream = summary.upstream;
  setText(byId('upstream-url'), upstream ? upstream.url : 'not configured here');
  byId('upstream-url').title = upstream
    ? `Gcore API: ${upstream.url}`
    : 'This relay was started without a Gcore API URL';
  byId('upstream-emulator').hidden = !upstream?.emulator;
  byId('emulator-banner').hidden = !upstream?.emulator;
  if (summary.open_uploads) renderOpenUploads(summary.open_uploads);
  const failed = summary.counts.failed ?? 0;
  document.title = `${failed ? `(${failed} failed) ` : ''}Jobs · gcore-tus-relay`;
}

/** @type {Record<LiveStatus, string>} */
const LIVE_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  polling: 'Reconnecting · refreshing every 5 s',
  offline: 'Relay unreachable · retrying',
};
/** @param {LiveStatus} status */
function setLiveStatus(status) {
  view.liveStatus = status;
  byId('live').dataset.status = status;
  setText(byId('live-text'), LIVE_TEXT[status]);
}

// ---- actions -------------------------------------------------------------------------------

/** @param {Partial<Filters>} change */
function setFilter(change) {
  Object.assign(view.filters, change);
  view.words = searchWords(view.filters.q);
  markActiveChip();
  writeFiltersToUrl();
  // What is loaded and still matches stays until the relay answers.
  view.jobs = new Map([...view.jobs].filter(([, job]) => matchesFilters(job) && matchesSearch(job)));
  render();
  void showBatchName();
  void reload();
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let searchTimer;
/** The relay searches every job (the index answers at any size): asked once typing pauses. */
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const q = search.value.trim();
    if (q !== view.filters.q) setFilter({ q });
  }, SEARCH_DELAY_MS);
}

/**
 * `retry` or `cancel` through the jobs API; the answer is the job as it is now.
 * @param {PublicJob} job
 * @param {'retry' | 'cancel'} action
 * @param {{deleteVideo?: boolean}} [options]
 */
async function runAction(job, action, options = {}) {
  const retry = action === 'retry';
  view.busy.add(job.id);
  render();
  try {
    const updated = retry ? await retryJob(job.id) : await cancelJob(job.id, options);
    applyJobs({ jobs: [updated] });
    toast(retry ? `Retrying “${job.name}”` : `Canceled “${job.name}”`);
  } catch (error) {
    toast(`${retry ? 'Retry' : 'Cancel'} of “${job.name}” failed: ${messageOf(error)}`, 'error');
  } finally {
    view.busy.delete(job.id);
    scheduleRender();
  }
}

/** @param {MouseEvent} event */
function onRowAction(event) {
  const button = targetOf(event)?.closest('button[data-action]');
  if (!(button instanceof HTMLButtonElement)) return;
  const job = view.jobs.get(button.closest('tr')?.dataset.jobId ?? '');
  if (!job || view.busy.has(job.id)) return;
  if (button.dataset.action === 'retry') void runAction(job, 'retry');
  else if (button.dataset.action === 'cancel') openCancelDialog(job);
}

/** @type {PublicJob | null} */
let cancelTarget = null;
/** @param {PublicJob} job */
function openCancelDialog(job) {
  cancelTarget = job;
  setText(byId('cancel-name'), job.name || job.id);
  byId('cancel-delete-video-row').hidden = !job.video;
  /** @type {HTMLInputElement} */ (byId('cancel-delete-video')).checked = false;
  /** @type {HTMLDialogElement} */ (byId('cancel-dialog')).showModal();
}

function setUpCancelDialog() {
  /** @type {HTMLDialogElement} */
  const dialog = byId('cancel-dialog');
  byId('cancel-keep').addEventListener('click', () => dialog.close());
  byId('cancel-confirm').addEventListener('click', () => {
    const job = cancelTarget;
    /** @type {HTMLInputElement} */
    const checkbox = byId('cancel-delete-video');
    const deleteVideo = checkbox.checked;
    dialog.close();
    if (job) void runAction(job, 'cancel', { deleteVideo });
  });
  dialog.addEventListener('close', () => {
    const row = cancelTarget && rows.get(cancelTarget.id)?.tr;
    cancelTarget = null;
    row?.querySelector('button')?.focus();
  });
}

/**
 * @param {string} message
 * @param {'info' | 'error'} [kind]
 */
function toast(message, kind = 'info') {
  // While polling, the same failure would otherwise stack up every few seconds.
  if ([...byId('toasts').children].some((el) => el.textContent === message)) return;
  const el = h('div', {
    class: `toast toast-${kind}`,
    role: kind === 'error' ? 'alert' : 'status',
    text: message,
  });
  byId('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8_000 : 4_000);
}

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/** @param {Event} event */
const targetOf = (event) => (event.target instanceof Element ? event.target : null);

// ---- start ---------------------------------------------------------------------------------

readFiltersFromUrl();
buildStateFilters();
setUpCancelDialog();
void showBatchName();
byId('batch-filter-clear').addEventListener('click', () => setFilter({ batch: '' }));
startBatchView({
  onShow: (batch, state) => {
    batchNames.set(batch.id, batch.name);
    setFilter({ batch: batch.id, state });
    byId('jobs').focus();
  },
  toast,
});
search.addEventListener('input', onSearch);
kindSelect.addEventListener('change', () =>
  setFilter({ kind: isOneOf(JOB_KINDS, kindSelect.value) ? kindSelect.value : '' }),
);
ownerSelect.addEventListener('change', () => setFilter({ owner: ownerSelect.value }));
tbody.addEventListener('click', onRowAction);
byId('load-more').addEventListener('click', () => void loadOlder());
setInterval(() => refreshAges(tbody, Date.now()), 15_000);

void reload();
connectLive({ reload, onJobs: applyJobs, onSummary: applySummary, onStatus: setLiveStatus });
