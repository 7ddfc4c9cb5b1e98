// Every user-visible string lives in one file per language (i18n/zh.json, i18n/en.json) (zh by default, en switchable); the
// choice is remembered in localStorage. Category names are data from the API and stay Chinese.

const KEY = 'gridfed.lang';
export const LANGS = ['zh', 'en'];
let strings = {};
let current = 'zh';

/** The language chosen before, or Chinese. */
export function preferred() {
  try {
    const l = localStorage.getItem(KEY);
    return LANGS.includes(l) ? l : 'zh';
  } catch {
    return 'zh';
  }
}

/** Loads the strings of `lang` and remembers the choice. */
export async function load(lang) {
  const r = await fetch(`/assets/i18n/${lang}.json`, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`i18n ${lang}: HTTP ${r.status}`);
  strings = await r.json();
  current = lang;
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    // Private windows may refuse storage; the choice then lasts this page.
  }
}

/** The current language. */
export function lang() {
  return current;
}

/** The string `key` with `{name}` placeholders filled from `vars`; the key itself when missing. */
export function t(key, vars) {
  let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** Whether `key` has a string (for optional names such as an unknown state). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(strings, key);
}

/** Fills elements marked data-i18n (text), data-i18n-title and data-i18n-placeholder under `root`. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}
