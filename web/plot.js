// plot.js: loss curves as SVG. Each series is drawn twice: raw (faint) and
// smoothed with TensorBoard's debiased exponential moving average. Log or
// linear y; the axes fit the data unless the user has zoomed (drag across
// steps), and "fit" forgets the zoom.
const NS = 'http://www.w3.org/2000/svg';
const H = 260, L = 48, R = 10, T = 10, B = 24;

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent?.append(e);
  return e;
}

export function ema(ys, w) {
  let s = 0;
  return ys.map((y, i) => {
    s = w * s + (1 - w) * y;
    return s / (1 - w ** (i + 1));
  });
}

function ticks(lo, hi, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) if (e >= lo - 1e-9 && e <= hi + 1e-9) out.push(e);
    return out.length >= 2 ? out : [lo, hi];
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const n = [1, 2, 5, 10].find((m) => (hi - lo) / (step * m) <= 5) * step;
  const out = [];
  for (let v = Math.ceil(lo / n) * n; v <= hi + 1e-12; v += n) out.push(v);
  return out;
}

const fmt = (v) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(+v.toPrecision(3)));

// series: [{name, xs, ys}], opts: {smooth, log, hidden:Set, zoom:[x0,x1]|null}
export function draw(svg, series, opts) {
  const W = Math.max(200, Math.round(svg.clientWidth || 640));
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  for (const n of [...svg.childNodes]) if (n.nodeName !== 'title') n.remove();
  const log = opts.log;
  const tf = (y) => (log ? Math.log10(y) : y);
  const shown = series.filter((s) => !opts.hidden.has(s.name));
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of shown) for (const x of s.xs) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); }
  if (opts.zoom) [x0, x1] = opts.zoom;
  const smoothed = shown.map((s) => ema(s.ys, opts.smooth));
  shown.forEach((s, k) => s.xs.forEach((x, i) => {
    if (x < x0 || x > x1) return;
    for (const y of [s.ys[i], smoothed[k][i]]) {
      if (log && !(y > 0)) continue;
      y0 = Math.min(y0, tf(y)); y1 = Math.max(y1, tf(y));
    }
  }));
  if (!Number.isFinite(x0) || !Number.isFinite(y0)) {
    el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, svg).textContent = 'No points yet';
    return { x0: 0, x1: 1, W };
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (tf(y) - y0) / (y1 - y0)) * (H - T - B);
  for (const t of ticks(y0, y1, log)) {
    const y = T + (1 - (t - y0) / (y1 - y0)) * (H - T - B);
    el('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'grid-line' }, svg);
    el('text', { x: L - 4, y: y + 4, 'text-anchor': 'end' }, svg).textContent = fmt(log ? 10 ** t : t);
  }
  for (const t of ticks(x0, x1, false)) {
    el('text', { x: sx(t), y: H - 6, 'text-anchor': 'middle' }, svg).textContent = fmt(t);
  }
  const clip = el('clipPath', { id: `${svg.id}-clip` }, el('defs', {}, svg));
  el('rect', { x: L, y: T, width: W - L - R, height: H - T - B }, clip);
  const g = el('g', { 'clip-path': `url(#${svg.id}-clip)` }, svg);
  shown.forEach((s, k) => {
    const cls = `s${series.indexOf(s)}`;
    const pts = (ys) => s.xs.map((x, i) => (log && !(ys[i] > 0) ? null : `${sx(x).toFixed(1)},${sy(ys[i]).toFixed(1)}`))
      .filter(Boolean).join(' ');
    el('polyline', { class: `raw ${cls}`, points: pts(s.ys), 'data-series': s.name }, g);
    el('polyline', { class: `smooth ${cls}`, points: pts(smoothed[k]), 'data-series': s.name }, g);
  });
  return { x0, x1, W, sx };
}

// Drag to zoom: calls onZoom([x0, x1]) in data units; a pointer moving
// without a button calls onHover(x) (null when it leaves) and draws a
// vertical line there.
export function zoomable(svg, getFrame, onZoom, onHover) {
  let start = null, rect = null, cursor = null;
  const dataX = (ev) => {
    const f = getFrame();
    const b = svg.getBoundingClientRect();
    const px = ((ev.clientX - b.left) / b.width) * f.W;
    return f.x0 + ((px - L) / (f.W - L - R)) * (f.x1 - f.x0);
  };
  svg.addEventListener('pointerdown', (ev) => {
    start = { x: dataX(ev), px: ev.clientX };
    svg.setPointerCapture(ev.pointerId);
  });
  svg.addEventListener('pointerleave', () => { cursor?.remove(); cursor = null; onHover(null); });
  svg.addEventListener('pointermove', (ev) => {
    if (!start) {
      const f = getFrame();
      const b = svg.getBoundingClientRect();
      const px = ((ev.clientX - b.left) / b.width) * f.W;
      if (!cursor || !cursor.isConnected) cursor = el('line', { y1: T, y2: H - B, class: 'cursor' }, svg);
      cursor.setAttribute('x1', px);
      cursor.setAttribute('x2', px);
      onHover(dataX(ev));
      return;
    }
    const f = getFrame();
    const b = svg.getBoundingClientRect();
    const a = ((Math.min(start.px, ev.clientX) - b.left) / b.width) * f.W;
    const w = (Math.abs(ev.clientX - start.px) / b.width) * f.W;
    rect?.remove();
    rect = el('rect', { x: a, y: T, width: w, height: H - T - B, class: 'zoom' }, svg);
  });
  svg.addEventListener('pointerup', (ev) => {
    if (!start) return;
    const a = start.x, b = dataX(ev), moved = Math.abs(ev.clientX - start.px) > 4;
    start = null;
    rect?.remove();
    rect = null;
    if (moved) onZoom([Math.min(a, b), Math.max(a, b)]);
  });
}
