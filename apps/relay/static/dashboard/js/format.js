// @ts-check
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/**
 * 1 234 567 → "1.23 MB" (decimal units, as disks and Gcore count).
 * @param {number} bytes
 */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 ? 0 : value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** @param {number} bytesPerSec */
export const formatRate = (bytesPerSec) => `${formatBytes(bytesPerSec)}/s`;

/**
 * Whole percent, floored so 99.6 % never shows as done; null when the whole is unknown.
 * @param {number} part
 * @param {number | null} whole
 * @returns {number | null}
 */
export function percent(part, whole) {
  if (!whole || whole <= 0) return null;
  return Math.max(0, Math.min(100, Math.floor((part / whole) * 100)));
}

/**
 * Milliseconds → "just now", "42 s", "7 min", "3 h 5 min", "2 d".
 * @param {number} ms
 */
export function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return min % 60 && hours < 10 ? `${hours} h ${min % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
/** @param {string} iso */
export const formatDateTime = (iso) => dateTime.format(new Date(iso));

/** @param {number} n */
export const formatCount = (n) => new Intl.NumberFormat().format(n);

/**
 * "https://media.example.com/a/b.mp4" → "media.example.com".
 * @param {string} url
 */
export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
