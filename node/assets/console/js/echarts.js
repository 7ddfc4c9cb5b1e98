// Apache ECharts (vendored, embedded in the binary) loaded once, on the first chart.

export const ECHARTS_SRC = '/assets/vendor/echarts-6.1.0/echarts.min.js';
let loading = null;

/** Resolves to the global `echarts` once the script has run. */
export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = ECHARTS_SRC;
      s.onload = () => resolve(window.echarts);
      s.onerror = () => {
        loading = null;
        reject(new Error('echarts did not load'));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}

/** A chart in `el`, disposed with the element's view; resizes with the window. */
export function chartIn(echarts, el, theme) {
  const chart = echarts.init(el, theme || null, { renderer: 'canvas' });
  const resize = () => chart.resize();
  window.addEventListener('resize', resize);
  return {
    chart,
    dispose() {
      window.removeEventListener('resize', resize);
      chart.dispose();
    },
  };
}
