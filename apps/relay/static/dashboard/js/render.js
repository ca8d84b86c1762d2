// @ts-check
import { isFinalState, JOB_STATES } from '../contract/index.js';
import { h } from './dom.js';
import { formatAge, formatBytes, formatDateTime, hostOf, percent } from './format.js';

/**
 * @typedef {import('./api.js').PublicJob} PublicJob
 * @typedef {import('./api.js').JobState} JobState
 * @typedef {import('@gtr/contract').JobVideo} JobVideo
 * @typedef {import('@gtr/contract').VideoStatus} VideoStatus
 * @typedef {import('./dom.js').Child} Child
 * @typedef {import('./dom.js').Leaf} Leaf
 */

/** @type {Record<JobState, {label: string, hint: string}>} */
const STATE_TEXT = {
  receiving: { label: 'Receiving', hint: 'the tool is uploading to the relay' },
  queued: { label: 'Queued', hint: 'waiting for a forwarding worker' },
  creating: { label: 'Creating', hint: 'creating the video at Gcore' },
  uploading: { label: 'Uploading', hint: 'sending the file to Gcore' },
  processing: { label: 'Processing', hint: 'Gcore is transcoding' },
  ready: { label: 'Ready', hint: 'done' },
  failed: { label: 'Failed', hint: 'stopped with an error; can be retried' },
  canceled: { label: 'Canceled', hint: 'canceled by an operator or tool' },
};

/** The job states in their order through the pipeline (the contract's), with what each means. */
export const STATES = JOB_STATES.map((id) => ({ id, ...STATE_TEXT[id] }));

/** @type {Record<VideoStatus, string>} */
const VIDEO_STATUS = {
  empty: 'Awaiting file',
  pending: 'Transcoding',
  viewable: 'Viewable',
  ready: 'Ready',
  error: 'Error',
};

/**
 * One table row; `busy` disables its buttons while a retry or cancel is on its way.
 * @param {PublicJob} job
 * @param {number} now
 * @param {boolean} [busy]
 */
export function renderRow(job, now, busy = false) {
  return h(
    'tr',
    { class: 'job-row', dataset: { jobId: job.id, state: job.state, kind: job.kind } },
    h('td', { class: 'col-job', dataset: { label: 'Job' } }, jobCell(job)),
    h('td', { class: 'col-state', dataset: { label: 'State' } }, statePill(job.state)),
    h('td', { class: 'col-progress', dataset: { label: 'Progress' } }, progressCell(job)),
    h('td', { class: 'col-gcore', dataset: { label: 'Gcore video' } }, videoCell(job.video)),
    h(
      'td',
      {
        class: `col-attempts${job.attempts === 0 ? ' attempts-none' : job.attempts > 1 ? ' attempts-many' : ''}`,
        dataset: { label: 'Attempts' },
      },
      String(job.attempts),
    ),
    h('td', { class: 'col-age', dataset: { label: 'Age' } }, ageCell(job, now)),
    h('td', { class: 'col-actions' }, actions(job, busy)),
  );
}

/**
 * @param {PublicJob} job
 * @returns {Leaf[]}
 */
function jobCell(job) {
  const meta = [
    h('span', { class: `kind kind-${job.kind}`, text: job.kind === 'import' ? 'Import' : 'Upload' }),
  ];
  if (job.filename && job.filename !== job.name) {
    meta.push(h('span', { class: 'meta-file', title: job.filename, text: job.filename }));
  }
  if (job.size !== null) meta.push(h('span', { text: formatBytes(job.size) }));
  if (job.owner) meta.push(h('span', { class: 'meta-owner', title: `Owner: ${job.owner}`, text: job.owner }));
  meta.push(h('code', { class: 'job-id', title: `Job id ${job.id}`, text: job.id }));
  return [
    h('div', { class: 'job-name', title: job.name, text: job.name || '(no name)' }),
    h('div', { class: 'job-meta' }, meta),
    job.error ? errorLine(job.error, job.state) : null,
  ];
}

/**
 * @param {import('@gtr/contract').JobError} error
 * @param {JobState} state
 */
function errorLine({ code, message, retryable }, state) {
  const later = state !== 'failed' && retryable ? ' · will retry' : '';
  return h(
    'p',
    { class: 'job-error', title: code },
    h('span', { class: 'job-error-icon', 'aria-hidden': 'true', text: '!' }),
    h('span', { class: 'job-error-message', text: message || code }),
    h('span', { class: 'job-error-code', text: `${code}${later}` }),
  );
}

/** @param {JobState} state */
export function statePill(state) {
  // A state this page does not know (a newer relay): shown by its name.
  const info = STATE_TEXT[state] ?? { label: state, hint: '' };
  return h(
    'span',
    { class: `state state-${state}`, title: info.hint },
    h('span', { class: 'state-dot', 'aria-hidden': 'true' }),
    info.label,
  );
}

/**
 * @param {PublicJob} job
 * @returns {Child}
 */
function progressCell(job) {
  if (job.kind === 'import') {
    const pulled = ['processing', 'ready'].includes(job.state) || job.video?.status === 'viewable';
    return h(
      'p',
      { class: 'progress-note', title: job.origin_url ?? '' },
      pulled ? 'Pulled by Gcore from ' : 'Gcore pulls it from ',
      h('span', { class: 'progress-host', text: job.origin_url ? hostOf(job.origin_url) : 'a URL' }),
    );
  }
  const size = job.size;
  // Once Gcore holds every byte the bars say nothing new: one line keeps live transfers prominent.
  if (['processing', 'ready'].includes(job.state) && size !== null && job.bytes_forwarded >= size) {
    return h(
      'p',
      { class: 'progress-note progress-done' },
      h('span', { class: 'progress-check', 'aria-hidden': 'true', text: '✓' }),
      `${formatBytes(size)} uploaded to Gcore`,
    );
  }
  const caption =
    job.state === 'receiving'
      ? // Streamed (FORWARD_MODE=stream): Gcore gets the bytes while they arrive, both bars move.
        `${formatBytes(job.bytes_received)}${size !== null ? ` of ${formatBytes(size)}` : ''} received${
          job.bytes_forwarded > 0 ? `, ${formatBytes(job.bytes_forwarded)} sent to Gcore` : ''
        }`
      : job.state === 'uploading' || (job.bytes_forwarded > 0 && job.bytes_forwarded < (size ?? 0))
        ? `${formatBytes(job.bytes_forwarded)}${size !== null ? ` of ${formatBytes(size)}` : ''} sent to Gcore`
        : null;
  return [
    bar('received', 'Received', job.bytes_received, size),
    bar('forwarded', 'To Gcore', job.bytes_forwarded, size),
    caption ? h('p', { class: 'progress-caption', text: caption }) : null,
  ];
}

/**
 * @param {'received' | 'forwarded'} kind
 * @param {string} label
 * @param {number} bytes
 * @param {number | null} size
 */
function bar(kind, label, bytes, size) {
  const pct = percent(bytes, size);
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${pct ?? 0}%`;
  return h(
    'div',
    { class: `bar-row bar-${kind}` },
    h('span', { class: 'bar-label', text: label }),
    h(
      'span',
      {
        class: `bar${pct === null ? ' bar-unknown' : ''}${pct === 100 ? ' bar-done' : ''}`,
        role: 'progressbar',
        dataset: { progress: kind },
        aria: {
          label: `${label}: ${formatBytes(bytes)}${size !== null ? ` of ${formatBytes(size)}` : ''}`,
          valuemin: 0,
          valuemax: 100,
          valuenow: pct,
        },
      },
      fill,
    ),
    h('span', { class: 'bar-value', text: pct === null ? formatBytes(bytes) : `${pct}%` }),
  );
}

/**
 * @param {JobVideo | null} video
 * @returns {Child}
 */
function videoCell(video) {
  if (!video) return h('span', { class: 'muted', title: 'no Gcore video yet', text: '—' });
  return [
    h(
      'span',
      { class: `vstatus vstatus-${video.status}`, title: `Gcore status: ${video.status}` },
      h('span', { class: 'vstatus-dot', 'aria-hidden': 'true' }),
      VIDEO_STATUS[video.status] ?? video.status,
    ),
    h('code', { class: 'video-id', title: 'Gcore video id', text: `#${video.id}` }),
    video.error ? h('p', { class: 'video-error', text: video.error }) : null,
  ];
}

/**
 * @param {PublicJob} job
 * @param {number} now
 */
function ageCell(job, now) {
  const title = `Created ${formatDateTime(job.created_at)}\nUpdated ${formatDateTime(job.updated_at)}${
    job.finished_at ? `\nFinished ${formatDateTime(job.finished_at)}` : ''
  }`;
  return h('time', {
    class: 'age',
    datetime: job.created_at,
    title,
    text: formatAge(now - Date.parse(job.created_at)),
  });
}

/**
 * @param {PublicJob} job
 * @param {boolean} busy
 */
function actions(job, busy) {
  const name = job.name || job.id;
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  if (job.state === 'failed') {
    buttons.push(
      h('button', {
        type: 'button',
        class: 'button button-small button-primary',
        dataset: { action: 'retry' },
        aria: { label: `Retry ${name}` },
        disabled: busy,
        text: 'Retry',
      }),
    );
  }
  if (!isFinalState(job.state)) {
    buttons.push(
      h('button', {
        type: 'button',
        class: 'button button-small button-quiet',
        dataset: { action: 'cancel' },
        aria: { label: `Cancel ${name}` },
        disabled: busy,
        text: 'Cancel',
      }),
    );
  }
  return h('div', { class: 'actions' }, buttons);
}

/**
 * Refreshes every age cell in place (they drift while the page stays open).
 * @param {ParentNode} root
 * @param {number} now
 */
export function refreshAges(root, now) {
  for (const el of root.querySelectorAll('time.age[datetime]')) {
    const text = formatAge(now - Date.parse(el.getAttribute('datetime') ?? ''));
    if (el.textContent !== text) el.textContent = text;
  }
}
