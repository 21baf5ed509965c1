// Small helpers shared by the panels: a per-frame scheduler (every DOM write of a burst of
// messages happens once, in the next animation frame), element creation and formatting.

const pending = new Set();
let frame = 0;

/** Runs fn once in the next animation frame, however often it is scheduled before then. */
export function schedule(fn) {
  pending.add(fn);
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  const fns = [...pending];
  pending.clear();
  for (const fn of fns) {
    try {
      fn();
    } catch (err) {
      // A rendering bug in one panel must not stop the others; it is reported, not swallowed.
      reportError(err);
    }
  }
}

/** el('div', { class: 'x', text: 'y', dataset: {...}, on: {click} }, ...children) */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** Sets textContent only when it differs (a write that changes nothing still costs layout). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function formatValue(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return v.toPrecision(3).replace(/\.?0+$/, '');
}

/** "5 s ago", "3 min ago", "2 h ago", or the date. */
export function ago(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function timeOf(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Milliseconds of "15m", "1h", "24h", "1s", "500ms". */
export function durationMs(text) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]];
}

/** Errors the page did not expect: shown in the message bar (and the console, once). */
let reporter = (err) => console.error(err);
export function onUnexpectedError(fn) { reporter = fn; }
export function reportError(err) { reporter(err); }
