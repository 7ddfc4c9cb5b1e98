// Live updates from the server-sent events at /api/v1/events: `case`, `stats`, `links`. The browser's
// EventSource retries dropped connections itself; when it gives up (the server refused the stream:
// a 401, or 503 when too many are open) we open a new one with backoff. Every (re)connection starts
// with `hello`; after a reconnection listeners get `resync`, since events may have been missed.

import { debounce } from './dom.js';

export class Live {
  /** `onEvent(type, data)`; `onState('live' | 'connecting' | 'down')`. */
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.es = null;
    this.backoff = 1000;
    this.seenHello = false;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    clearTimeout(this.timer);
    this.onState('connecting');
    const es = new EventSource('/api/v1/events', { withCredentials: true });
    this.es = es;
    es.addEventListener('hello', () => {
      this.backoff = 1000;
      this.onState('live');
      if (this.seenHello) this.onEvent('resync', null);
      this.seenHello = true;
    });
    for (const type of ['case', 'stats', 'links']) {
      es.addEventListener(type, (e) => {
        let data = null;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        this.onEvent(type, data);
      });
    }
    es.onerror = () => {
      if (es !== this.es) return;
      if (es.readyState === EventSource.CLOSED) {
        this.onState('down');
        es.close();
        if (!this.stopped) {
          this.timer = setTimeout(() => this.start(), this.backoff);
          this.backoff = Math.min(this.backoff * 2, 30000);
        }
      } else {
        this.onState('connecting');
      }
    };
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
  }
}

/**
 * The life of a view that reloads as a whole: `refresh` now, again (debounced by `wait` ms) on live
 * events of `types` and after a reconnection, and every `every` ms when given (ages move on even when
 * nothing changes); `onDispose` runs when the view goes. Returns the view's { onEvent, dispose }.
 */
export function refreshing(refresh, { types, wait, every, onDispose }) {
  const later = debounce(refresh, wait);
  const tick = every ? setInterval(refresh, every) : null;
  refresh();
  return {
    onEvent(type) {
      if (type === 'resync' || types.includes(type)) later();
    },
    dispose() {
      later.cancel();
      clearInterval(tick);
      if (onDispose) onDispose();
    },
  };
}
