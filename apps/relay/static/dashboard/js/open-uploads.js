// @ts-check
// The summary's `open_uploads`: each tool's unfinished uploads against its quota.
import { byId, h, setText } from './dom.js';
import { formatBytes, formatCount } from './format.js';

/**
 * @typedef {import('./api.js').OpenUploadsReport} OpenUploadsReport
 */

/** A tool at this share of a limit or more is shown as near it. */
const NEAR = 0.9;

/**
 * `value` of `limit` ("12 of 200"); the limit left out when there is none.
 * @param {string} value
 * @param {string | null} limit
 */
const ofLimit = (value, limit) => (limit === null ? value : `${value} of ${limit}`);

/**
 * Fills the "Open uploads" table: one row per tool, the limits in its note.
 * @param {OpenUploadsReport} report
 */
export function renderOpenUploads(report) {
  const {
    max_open_uploads: maxUploads,
    max_open_bytes: maxBytes,
    disk_reserve_bytes: reserve,
  } = report.limits;
  setText(
    byId('open-uploads-limits'),
    [
      `at most ${maxUploads === null ? 'any number of' : formatCount(maxUploads)} open uploads`,
      `${maxBytes === null ? 'any size' : formatBytes(maxBytes)} declared per tool`,
      `${formatBytes(reserve)} disk kept free`,
    ].join(' · '),
  );
  const rows = report.owners.map((entry) => {
    const near =
      (maxUploads !== null && entry.uploads >= maxUploads * NEAR) ||
      (maxBytes !== null && entry.bytes >= maxBytes * NEAR);
    return h(
      'tr',
      { class: near ? 'open-uploads-near' : '', dataset: { owner: entry.owner } },
      h('td', { class: 'open-uploads-owner', text: entry.owner }),
      h('td', {
        text: ofLimit(formatCount(entry.uploads), maxUploads === null ? null : formatCount(maxUploads)),
      }),
      h('td', {
        text: ofLimit(formatBytes(entry.bytes), maxBytes === null ? null : formatBytes(maxBytes)),
      }),
    );
  });
  byId('open-upload-rows').replaceChildren(
    ...(rows.length > 0
      ? rows
      : [h('tr', {}, h('td', { colspan: 3, class: 'open-uploads-none', text: 'No tokens configured' }))]),
  );
}
