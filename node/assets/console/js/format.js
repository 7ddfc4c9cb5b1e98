// Formatting the server's figures, never recomputing them: rates are the server's, shown with one
// decimal (93.7%), with the numerator and denominator it summed as a tooltip.

import { t } from './i18n.js';

const BEIJING_MS = 8 * 3600 * 1000;

/** A rate (0..1) as a percentage with one decimal, e.g. 0.93724 -> "93.7%". */
export function pct(rate) {
  if (typeof rate !== 'number' || !Number.isFinite(rate)) return '—';
  return `${(rate * 100).toFixed(1)}%`;
}

/** A count with thousands separators. */
export function num(n) {
  if (typeof n !== 'number') return '—';
  return n.toLocaleString('en-US');
}

function two(n) {
  return String(n).padStart(2, '0');
}

/** Milliseconds since the epoch as Beijing time, "2026-11-25 14:03" (the days figures use). */
export function dateTime(ms, seconds = false) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms + BEIJING_MS);
  const s = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
  return seconds ? `${s}:${two(d.getUTCSeconds())}` : s;
}

/** The Beijing date of `ms`, "2026-11-25". */
export function day(ms) {
  return dateTime(ms).slice(0, 10);
}

/** "YYYY-MM-DDTHH:MM" (a datetime-local input) read as Beijing time, in ms; NaN if malformed. */
export function parseLocal(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || '');
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]) - BEIJING_MS;
}

/** A duration in ms, short and translated: "12 s", "5 min", "3 h", "2 d". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('dur.s', { n: s });
  if (s < 3600) return t('dur.min', { n: Math.floor(s / 60) });
  if (s < 86400) return t('dur.h', { n: Math.floor(s / 3600) });
  return t('dur.d', { n: Math.floor(s / 86400) });
}
