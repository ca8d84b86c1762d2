// @ts-check
// The migrations view: one card per batch, its counts as the relay keeps them (they always add up
// to its total), the failed items with Gcore's messages, and Retry failed / Export.
import { FINAL_STATES } from '../contract/index.js';
import { batchExportUrl, listBatches, listJobs, retryBatch } from './api.js';
import { byId, h, setText } from './dom.js';
import { formatCount } from './format.js';

/**
 * @typedef {import('./api.js').PublicBatch} PublicBatch
 * @typedef {import('./api.js').PublicJob} PublicJob
 * @typedef {import('./api.js').JobState} JobState
 */

/** How often the cards are refreshed while the page is visible. */
const REFRESH_MS = 3_000;
/** Failed items listed per card (the export has them all). */
const FAILED_SHOWN = 5;

/** @type {Map<string, {li: HTMLLIElement, key: string}>} */
const cards = new Map();
/** @type {Map<string, {failed: number, items: PublicJob[]}>} id → its failed items, fetched when its count changes. */
const failedItems = new Map();

/**
 * `onShow(batch, state)`: the jobs list is to show that batch (and state); `toast(text, kind)`.
 * @typedef {{onShow: (batch: PublicBatch, state: JobState | '') => void, toast: (text: string, kind?: 'info' | 'error') => void}} BatchViewOptions
 */

/** @param {BatchViewOptions} options */
export function startBatchView(options) {
  const list = byId('batch-list');
  list.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const button = target?.closest('button[data-batch-action]');
    if (!(button instanceof HTMLButtonElement)) return;
    const id = button.closest('li')?.dataset.batchId ?? '';
    const batch = latest.get(id);
    if (!batch) return;
    const action = button.dataset.batchAction;
    if (action === 'show') options.onShow(batch, '');
    else if (action === 'failed') options.onShow(batch, 'failed');
    else if (action === 'retry') void retry(batch, button, options);
  });
  const refresh = () => {
    if (document.visibilityState === 'visible') void load();
  };
  void load();
  setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', refresh);
  return { reload: load };
}

/** @type {Map<string, PublicBatch>} */
const latest = new Map();

async function load() {
  const page = await listBatches(20).catch(() => null);
  if (!page) return;
  render(page.items);
}

/**
 * @param {PublicBatch} batch
 * @param {HTMLButtonElement} button
 * @param {BatchViewOptions} options
 */
async function retry(batch, button, options) {
  button.disabled = true;
  try {
    const { retried } = await retryBatch(batch.id);
    options.toast(
      `Retrying ${formatCount(retried)} failed ${retried === 1 ? 'job' : 'jobs'} of “${batch.name}”`,
    );
    failedItems.delete(batch.id);
    await load();
  } catch (error) {
    options.toast(
      `Retry of “${batch.name}” failed: ${error instanceof Error ? error.message : String(error)}`,
      'error',
    );
  } finally {
    button.disabled = false;
  }
}

/** @param {PublicBatch[]} batches */
function render(batches) {
  const section = byId('batches');
  section.hidden = batches.length === 0;
  const list = byId('batch-list');
  const keep = new Set();
  /** @type {HTMLLIElement | null} */
  let previous = null;
  for (const batch of batches) {
    latest.set(batch.id, batch);
    keep.add(batch.id);
    const items = failedItems.get(batch.id);
    if (batch.counts.failed > 0 && items?.failed !== batch.counts.failed) void loadFailed(batch);
    const key = JSON.stringify([batch, items?.items.map((j) => j.id)]);
    let card = cards.get(batch.id);
    if (!card || card.key !== key) {
      const li = renderCard(batch, items?.items ?? []);
      card?.li.replaceWith(li);
      card = { li, key };
      cards.set(batch.id, card);
    }
    /** @type {ChildNode | null} */
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (card.li !== expected) list.insertBefore(card.li, expected);
    previous = card.li;
  }
  for (const [id, card] of cards) {
    if (keep.has(id)) continue;
    card.li.remove();
    cards.delete(id);
    latest.delete(id);
  }
  const running = batches.filter((b) => b.finished_at === null).length;
  setText(byId('batches-note'), running ? `${running} running` : 'all finished');
}

/** @param {PublicBatch} batch */
async function loadFailed(batch) {
  failedItems.set(batch.id, { failed: batch.counts.failed, items: failedItems.get(batch.id)?.items ?? [] });
  const page = await listJobs({ batch: batch.id, state: 'failed', limit: FAILED_SHOWN }).catch(() => null);
  if (!page) return;
  failedItems.set(batch.id, { failed: batch.counts.failed, items: page.items });
  const current = latest.get(batch.id);
  if (current) render([...latest.values()]);
}

/** Segments of the bar, in this order: ready, failed, canceled, then what is still on its way. */
const SEGMENTS = /** @type {const} */ (['ready', 'failed', 'canceled']);

/**
 * @param {PublicBatch} batch
 * @param {PublicJob[]} failed
 */
function renderCard(batch, failed) {
  const { total, counts } = batch;
  const done = FINAL_STATES.reduce((n, s) => n + counts[s], 0);
  const onWay = total - done;
  const pct = (/** @type {number} */ n) => (total > 0 ? (n / total) * 100 : 0);
  const bar = h(
    'div',
    {
      class: 'batch-bar',
      role: 'progressbar',
      aria: {
        valuemin: 0,
        valuemax: total,
        valuenow: counts.ready,
        valuetext: `${counts.ready} of ${total} ready`,
        label: `${batch.name}: progress`,
      },
    },
    ...SEGMENTS.map((s) => {
      if (counts[s] === 0) return null;
      const seg = h('span', { class: `batch-seg batch-seg-${s}` });
      // Through the CSSOM: the page's CSP refuses style attributes.
      seg.style.width = `${pct(counts[s]).toFixed(3)}%`;
      return seg;
    }),
  );
  const summary = [
    `${formatCount(counts.ready)} of ${formatCount(total)} ready`,
    counts.failed ? `${formatCount(counts.failed)} failed` : null,
    counts.canceled ? `${formatCount(counts.canceled)} canceled` : null,
    onWay ? `${formatCount(onWay)} on the way` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  const pace =
    batch.finished_at !== null
      ? 'finished'
      : [
          batch.rate_per_minute === null ? null : `${batch.rate_per_minute}/min`,
          batch.eta_seconds === null ? 'ETA unknown' : `ETA ${formatEta(batch.eta_seconds)}`,
        ]
          .filter(Boolean)
          .join(' · ');
  return h(
    'li',
    { class: `batch${batch.finished_at ? ' batch-finished' : ''}`, dataset: { batchId: batch.id } },
    h(
      'div',
      { class: 'batch-head' },
      h('h3', { class: 'batch-name', text: batch.name, title: batch.id }),
      h('p', { class: 'batch-pace', text: pace }),
    ),
    bar,
    h('p', { class: 'batch-summary', text: summary }),
    failed.length > 0
      ? h(
          'ul',
          { class: 'batch-failed', aria: { label: `Failed items of ${batch.name}` } },
          ...failed.map((job) =>
            h(
              'li',
              {},
              h('span', { class: 'batch-failed-item', text: job.origin_url ?? job.filename ?? job.name }),
              h('span', {
                class: 'batch-failed-message',
                text: job.error ? `${job.error.message} (${job.error.code})` : 'failed',
              }),
            ),
          ),
          counts.failed > failed.length
            ? h('li', {
                class: 'batch-failed-more',
                text: `and ${formatCount(counts.failed - failed.length)} more in the export`,
              })
            : null,
        )
      : null,
    h(
      'div',
      { class: 'batch-actions' },
      h('button', {
        type: 'button',
        class: 'button button-small',
        dataset: { batchAction: 'show' },
        text: 'Jobs',
        aria: { label: `Show the jobs of ${batch.name}` },
      }),
      counts.failed > 0
        ? h('button', {
            type: 'button',
            class: 'button button-small',
            dataset: { batchAction: 'failed' },
            text: `Failed (${formatCount(counts.failed)})`,
            aria: { label: `Show the failed jobs of ${batch.name}` },
          })
        : null,
      counts.failed > 0
        ? h('button', {
            type: 'button',
            class: 'button button-small button-primary',
            dataset: { batchAction: 'retry' },
            text: 'Retry failed',
            aria: { label: `Retry the failed jobs of ${batch.name}` },
          })
        : null,
      h('a', {
        class: 'button button-small',
        href: batchExportUrl(batch.id, 'csv'),
        download: `batch-${batch.id}.csv`,
        text: 'Export CSV',
        aria: { label: `Export ${batch.name} as CSV` },
      }),
      h('a', {
        class: 'button button-small',
        href: batchExportUrl(batch.id, 'json'),
        download: `batch-${batch.id}.json`,
        text: 'JSON',
        aria: { label: `Export ${batch.name} as JSON` },
      }),
    ),
  );
}

/** @param {number} seconds */
function formatEta(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const min = Math.round(seconds / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}
