// train.js: the Train view: the token, a new job (its advanced settings
// generated from TrainConfig in /openapi.yaml), the job list, and a job's
// live curves (from GET /train/{id}/history), checkpoint previews with a
// step slider, "try it on my photo" against the served version, and pin.
import { $, confirmed, show } from './ui.js';
import { ApiError, call, describe, json, stylize, token } from './api.js';
import { draw, zoomable } from './plot.js';
import { currentPhoto } from './stylize.js';

const SERIES = ['d', 'g_adv', 'content', 'style', 'tv'];
const LABELS = { d: 'discriminator', g_adv: 'adversarial', content: 'content', style: 'style', tv: 'total variation' };

// Recipes: a quick look at a small size, the server's named presets (the
// enum of TrainConfig.preset: the recipes that made shipped styles; the
// server resolves them), and the server's defaults.
const QUICK = { steps: 300, size: 128, checkpoint_every: 50 };

function recipes() {
  const out = [{ value: 'quick', label: 'Quick look (300 steps at 128 px, minutes)', cfg: QUICK }];
  for (const name of st.schema?.preset?.enum || [])
    out.push({ value: `preset:${name}`, label: `The ${name} recipe (the server's preset)`, cfg: { preset: name } });
  out.push({ value: 'defaults', label: "The server's defaults", cfg: {} });
  return out;
}

const st = {
  schema: null,     // TrainConfig properties
  timer: 0,
  open: null,       // id of the job shown
  history: null,
  zoom: null,
  hidden: new Set(),
  frame: null,
  holding: false,   // the checkpoint slider is held
  jobs: [],
};

// The TrainConfig properties of openapi.yaml: a reader for the block style
// the file uses (name:, then key: value lines; flow lists; | text).
export function trainConfigSchema(yaml) {
  const lines = yaml.split('\n');
  let i = lines.findIndex((l) => /^ {4}TrainConfig:\s*$/.test(l));
  if (i < 0) return {};
  while (i < lines.length && !/^ {6}properties:\s*$/.test(lines[i])) i++;
  const props = {};
  let cur = null, text = null;
  for (i++; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim() && !l.startsWith('        ')) break;
    let m;
    if (text && (l.startsWith('            ') || !l.trim())) {
      cur[text] = `${cur[text]} ${l.trim()}`.trim();
      continue;
    }
    text = null;
    if ((m = /^ {8}(\w+):\s*$/.exec(l))) props[m[1]] = cur = {};
    else if ((m = /^ {10}(\w+):\s*(.*)$/.exec(l)) && cur) {
      const v = m[2].trim();
      if (v === '|') { cur[m[1]] = ''; text = m[1]; }
      else if (/^\[.*\]$/.test(v)) cur[m[1]] = v.slice(1, -1).split(',').map((s) => s.trim()).map((s) => (isNaN(s) ? s : +s));
      else if (v === '') cur[m[1]] = {};
      else cur[m[1]] = isNaN(v) ? v.replace(/^'(.*)'$/, '$1') : +v;
    }
  }
  return props;
}

function fieldError(input, errEl, text) {
  if (input) input.setAttribute('aria-invalid', text ? 'true' : 'false');
  if (errEl) { errEl.textContent = text; errEl.hidden = !text; }
}

function clearErrors() {
  for (const e of document.querySelectorAll('#job-form .field-error')) { e.hidden = true; e.textContent = ''; }
  for (const e of document.querySelectorAll('#job-form [aria-invalid]')) e.setAttribute('aria-invalid', 'false');
}

function buildFields() {
  const box = $('#job-fields');
  box.textContent = '';
  for (const [name, p] of Object.entries(st.schema)) {
    if (name === 'name' || name === 'init_version' || name === 'preset') continue;
    const id = `cfg-${name}`;
    const f = document.createElement('div');
    f.className = 'field';
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = name;
    let input;
    if (p.enum) {
      input = document.createElement('select');
      input.append(new Option('(default)', ''));
      for (const v of p.enum) input.append(new Option(String(v), String(v)));
    } else {
      input = document.createElement('input');
      if (p.type === 'integer' || p.type === 'number') {
        input.type = 'number';
        input.step = p.type === 'integer' ? String(p.multipleOf || 1) : 'any';
        if (p.minimum !== undefined) input.min = p.minimum;
        if (p.maximum !== undefined) input.max = p.maximum;
      } else {
        input.type = 'text';
      }
      if (p.default !== undefined) input.placeholder = Array.isArray(p.default) ? p.default.join(', ') : String(p.default);
    }
    input.id = id;
    input.dataset.key = name;
    input.dataset.type = p.type;
    const err = document.createElement('p');
    err.className = 'field-error';
    err.id = `${id}-error`;
    err.hidden = true;
    const ids = [err.id];
    if (p.description) {
      const h = document.createElement('p');
      h.className = 'hint';
      h.id = `${id}-hint`;
      h.textContent = p.description;
      ids.unshift(h.id);
      f.append(label, input, h, err);
    } else {
      f.append(label, input, err);
    }
    input.setAttribute('aria-describedby', ids.join(' '));
    box.append(f);
  }
}

function applyPreset() {
  const cfg = recipes().find((r) => r.value === $('#job-preset').value)?.cfg || {};
  for (const input of document.querySelectorAll('#job-fields [data-key]')) {
    const v = cfg[input.dataset.key];
    input.value = v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v);
  }
}

function readConfig() {
  const recipe = recipes().find((r) => r.value === $('#job-preset').value);
  const cfg = { name: $('#job-name').value.trim(), ...(recipe?.cfg.preset ? { preset: recipe.cfg.preset } : {}) };
  for (const input of document.querySelectorAll('#job-fields [data-key]')) {
    const v = input.value.trim();
    if (!v) continue;
    const t = input.dataset.type;
    cfg[input.dataset.key] = t === 'array' ? v.split(',').map((s) => Number(s.trim()))
      : t === 'integer' || t === 'number' ? Number(v) : v;
  }
  return cfg;
}

async function submitJob(ev) {
  ev.preventDefault();
  clearErrors();
  const form = new FormData();
  const styles = $('#job-style').files;
  if (!$('#job-name').value.trim()) return fieldError($('#job-name'), $('#job-name-error'), 'Give the model a name.'), $('#job-name').focus();
  if (!styles.length) return fieldError($('#job-style'), $('#job-style-error'), 'Choose at least one painting.'), $('#job-style').focus();
  for (const f of styles) form.append('style', f, f.name);
  for (const f of $('#job-content').files) form.append('content', f, f.name);
  form.append('config', JSON.stringify(readConfig()));
  $('#job-submit').disabled = true;
  try {
    const job = await json('/train', { method: 'POST', body: form, auth: true });
    trainError('');
    await refreshJobs();
    openJob(job.id);
  } catch (e) {
    const p = e.param;
    const input = p === 'name' ? $('#job-name') : p === 'style' ? $('#job-style') : p === 'content' ? $('#job-content')
      : p ? $(`#cfg-${CSS.escape(p)}`) : null;
    if (input) {
      const errEl = $(`#${input.id}-error`);
      if (input.closest('details')) input.closest('details').open = true;
      fieldError(input, errEl, e.problem?.detail || describe(e));
      input.focus();
    } else {
      fieldError(null, $('#job-config-error'), describe(e));
    }
  } finally {
    $('#job-submit').disabled = false;
  }
}

function trainError(text) {
  $('#train-error').textContent = text;
  show($('#train-error'), !!text);
}

const fmtEta = (s) => (s == null ? '–' : s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

function renderJobs() {
  const body = $('#jobs tbody');
  body.textContent = '';
  show($('#jobs-empty'), !st.jobs.length);
  for (const j of st.jobs) {
    const tr = document.createElement('tr');
    tr.dataset.id = j.id;
    tr.classList.toggle('open', j.id === st.open);
    const cells = [j.model, null, `${j.step} / ${j.steps}`, j.steps_per_s ? j.steps_per_s.toFixed(2) : '–', fmtEta(j.eta_s)];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      if (i === 1) {
        const s = document.createElement('span');
        s.className = `state ${j.state}`;
        s.textContent = j.state;
        td.append(s);
      } else td.textContent = c;
      tr.append(td);
    });
    const td = document.createElement('td');
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = 'Open';
    open.setAttribute('aria-label', `Open the job training ${j.model}`);
    open.addEventListener('click', () => openJob(j.id));
    td.append(open);
    if (j.state === 'queued' || j.state === 'running') {
      const c = document.createElement('button');
      c.type = 'button';
      c.textContent = 'Cancel';
      c.setAttribute('aria-label', `Cancel the job training ${j.model}`);
      c.addEventListener('click', async () => {
        if (!(await confirmed(`Cancel the job training ${j.model}? A running job keeps its last checkpoint.`, 'Cancel the job'))) return;
        try { await call(`/train/${j.id}`, { method: 'DELETE', auth: true }); } catch (e) { trainError(describe(e)); }
        refreshJobs();
      });
      td.append(c);
    }
    tr.append(td);
    body.append(tr);
  }
}

async function refreshJobs() {
  try {
    st.jobs = (await json('/train', { auth: true })).jobs;
    trainError('');
    renderJobs();
    return true;
  } catch (e) {
    trainError(e.status === 403 ? 'Training is off on this server: start it with a management token (ATELIER_TOKEN).'
      : describe(e));
    return false;
  }
}

function openJob(id) {
  st.open = id;
  st.zoom = null;
  st.history = null;
  show($('#job'), true);
  renderJobs();
  refreshJob();
  $('#h-job').scrollIntoView({ block: 'nearest' });
}

function renderChart() {
  const h = st.history;
  if (!h) return;
  const series = SERIES.map((name) => ({ name, xs: h.points.map((p) => p.step), ys: h.points.map((p) => p[name]) }));
  st.frame = draw($('#chart'), series, {
    smooth: parseFloat($('#smooth').value), log: $('#logy').checked, hidden: st.hidden, zoom: st.zoom,
  });
}

// The values at the step nearest the pointer, under the chart.
function readout(x) {
  const pts = st.history?.points || [];
  if (x === null || !pts.length) { $('#chart-readout').textContent = ''; return; }
  const p = pts.reduce((a, b) => (Math.abs(b.step - x) < Math.abs(a.step - x) ? b : a));
  $('#chart-readout').textContent = `step ${p.step}: ` +
    SERIES.filter((n) => !st.hidden.has(n)).map((n) => `${LABELS[n]} ${p[n].toPrecision(3)}`).join(' · ');
}

function renderLegend() {
  const box = $('#legend');
  if (box.childElementCount) return;
  SERIES.forEach((name, i) => {
    const l = document.createElement('label');
    const c = document.createElement('input');
    c.type = 'checkbox';
    c.checked = true;
    c.addEventListener('change', () => { if (c.checked) st.hidden.delete(name); else st.hidden.add(name); renderChart(); });
    const sw = document.createElement('span');
    sw.className = `swatch s${i}`;
    l.append(c, sw, document.createTextNode(LABELS[name]));
    box.append(l);
  });
}

function renderCheckpoints() {
  const cps = st.history.checkpoints;
  show($('#ckpt-empty'), !cps.length);
  show($('#ckpt'), cps.length > 0);
  if (!cps.length) return;
  const slider = $('#ckpt-step');
  const max = cps.length - 1;
  const following = slider.value === slider.max;
  slider.max = String(max);
  // The newest arrives while the user looks at an older one, or holds
  // the slider: the slider stays where it is.
  if (following && !st.holding) slider.value = String(max);
  showCheckpoint();
}

function checkpoint() {
  const cps = st.history?.checkpoints || [];
  return cps[Math.min(cps.length - 1, parseInt($('#ckpt-step').value, 10))];
}

// The previews need the token, so they come through fetch as blobs, each
// once (job id and version: a checkpoint's preview never changes).
const previews = new Map();

async function showCheckpoint() {
  const c = checkpoint();
  if (!c) return;
  $('#ckpt-out').textContent = `version ${c.version}, step ${c.step}`;
  $('#ckpt-step').setAttribute('aria-valuetext', `version ${c.version}, step ${c.step}`);
  const key = `${st.open}/${c.version}`;
  const img = $('#ckpt-preview');
  if (img.dataset.key === key) return;
  img.dataset.key = key;
  if (!previews.has(key)) {
    try {
      const res = await call(`/train/${st.open}/preview?version=${c.version}`, { auth: true });
      previews.set(key, URL.createObjectURL(await res.blob()));
    } catch (e) {
      img.dataset.key = '';
      $('#ckpt-status').textContent = `No preview for version ${c.version}: ${describe(e)}`;
      return;
    }
  }
  if (img.dataset.key !== key) return;      // the slider moved on meanwhile
  img.src = previews.get(key);
  img.alt = `Preview of version ${c.version} at step ${c.step}`;
  showVerdict(c.version);
}

// The version's state and the promotion gate's verdict (GET /models/{name}).
async function showVerdict(version) {
  const model = st.jobs.find((j) => j.id === st.open)?.model;
  let d;
  try {
    d = (await json(`/models/${encodeURIComponent(model)}`)).versions_detail?.find((x) => x.version === version);
  } catch {
    d = null;
  }
  if (checkpoint()?.version !== version) return;
  $('#ckpt-gate').textContent = !d ? '' : `Version ${version}: ${d.state}` +
    (d.gate ? (d.gate.passed ? ', passed the gate.' : `, refused by the gate: ${d.gate.reasons}.`) : '.');
}

// The job and its history: the whole history when the job is opened, then
// only the steps after the last one drawn (?since=), unless the server
// thinned its history (stride) or a resumed run went back (step).
async function refreshJob() {
  const id = st.open;
  if (!id) return;
  try {
    const job = await json(`/train/${id}`, { auth: true });
    const have = st.history?.id === id ? st.history : null;
    const last = have?.points.at(-1)?.step ?? -1;
    const fresh = !have || job.step < last;
    const h = await json(`/train/${id}/history${fresh || last < 0 ? '' : `?since=${last}`}`, { auth: true });
    if (id !== st.open) return;
    if (fresh || last < 0 || h.stride !== have.stride) {
      st.history = { id, ...h };
    } else {
      have.points.push(...h.points);
      have.checkpoints.push(...h.checkpoints);
    }
    const hist = st.history;
    $('#h-job').textContent = `Training ${job.model}`;
    $('#job-summary').textContent = `${job.state}, step ${job.step} of ${job.steps}` +
      `${job.error ? `: ${job.error}` : ''}. ${hist.points.length} points, ${hist.checkpoints.length} checkpoints.`;
    renderLegend();
    renderChart();
    renderCheckpoints();
  } catch (e) {
    trainError(describe(e));
  }
}

async function tryCheckpoint() {
  const c = checkpoint();
  const photo = $('#ckpt-photo').files[0] || currentPhoto();
  const status = $('#ckpt-status');
  if (!photo) {
    status.textContent = 'Choose a photo first (here, or on the "Paint a photo" view).';
    $('#ckpt-photo').focus();
    return;
  }
  const model = st.jobs.find((j) => j.id === st.open)?.model;
  status.textContent = `Painting your photo with version ${c.version} and with the served version…`;
  try {
    // A model whose candidates were never promoted serves nothing yet:
    // the checkpoint is then compared with the photo itself.
    const [cand, served] = await Promise.all([
      stylize(photo, { model, version: String(c.version), format: 'png', max_size: '1024' }),
      stylize(photo, { model, format: 'png', max_size: '1024' }).catch((e) => {
        if (e.status === 404 || e.status === 503) return null;
        throw e;
      }),
    ]);
    $('#ckpt-candidate').src = URL.createObjectURL(cand.blob);
    $('#ckpt-served').src = URL.createObjectURL(served ? served.blob : photo);
    $('#ckpt-served-cap').textContent = served ? `Served: ${served.model}` : 'Nothing served yet: your photo';
    $('#ckpt-cand-cap').textContent = `Checkpoint: ${cand.model}`;
    show($('#ckpt-compare'), true);
    show($('#ckpt-swipe-row'), true);
    status.textContent = `Left: ${served ? `the served version (${served.model})` : 'your photo (nothing is served yet)'}; ` +
      `right: version ${c.version}. Move the divider to compare.`;
  } catch (e) {
    status.textContent = describe(e);
  }
}

async function pinCheckpoint() {
  const c = checkpoint();
  const model = st.jobs.find((j) => j.id === st.open)?.model;
  if (!(await confirmed(`Serve ${model} version ${c.version} to every request for ${model}? It stays pinned until you choose another version or "back to newest" on the Models view.`, `Serve version ${c.version}`))) return;
  try {
    const r = await json(`/models/${model}/current`, {
      method: 'PUT', auth: true, body: JSON.stringify({ version: c.version }), headers: { 'Content-Type': 'application/json' },
    });
    $('#ckpt-status').textContent = `${model} now serves version ${r.current} (pinned).`;
  } catch (e) {
    $('#ckpt-status').textContent = describe(e);
  }
}

async function tick() {
  if (document.visibilityState === 'visible' && token.get()) {
    await refreshJobs();
    await refreshJob();
  }
}

export function enterTrain() {
  const has = !!token.get();
  show($('#train-body'), has);
  show($('#token-forget'), has);
  if (has) $('#token').value = '';
  $('#token').placeholder = has ? 'set for this tab' : '';
  if (!st.timer && has) {
    tick();
    st.timer = setInterval(tick, 1500);
  }
  if (!st.schema && has) loadSchema();
}

export function leaveTrain() {
  clearInterval(st.timer);
  st.timer = 0;
}

async function loadSchema() {
  try {
    const text = await (await call('/openapi.yaml')).text();
    st.schema = trainConfigSchema(text);
    buildFields();
    $('#job-preset').textContent = '';
    for (const r of recipes()) $('#job-preset').append(new Option(r.label, r.value));
    applyPreset();
  } catch (e) {
    trainError(`The job settings could not be read from /openapi.yaml: ${describe(e)}`);
  }
}

export function initTrain() {
  $('#job-preset').addEventListener('change', applyPreset);
  $('#token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('#token').value.trim();
    if (!t) return;
    token.set(t);
    try {
      await json('/train', { auth: true });
      trainError('');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        token.clear();
        trainError('The server refused this token.');
        $('#token').focus();
        return;
      }
      trainError(describe(e));
    }
    leaveTrain();
    enterTrain();
    $('#job-name').focus();
  });
  $('#token-forget').addEventListener('click', () => {
    token.clear();
    leaveTrain();
    enterTrain();
    $('#token').focus();
  });
  $('#job-form').addEventListener('submit', submitJob);
  $('#smooth').addEventListener('input', () => { $('#smooth-out').textContent = $('#smooth').value; renderChart(); });
  $('#logy').addEventListener('change', renderChart);
  $('#zoom-reset').addEventListener('click', () => { st.zoom = null; renderChart(); });
  zoomable($('#chart'), () => st.frame || { x0: 0, x1: 1, W: 640 }, (z) => { st.zoom = z; renderChart(); }, readout);
  const slider = $('#ckpt-step');
  slider.addEventListener('pointerdown', () => { st.holding = true; });
  window.addEventListener('pointerup', () => { st.holding = false; });
  slider.addEventListener('input', showCheckpoint);
  $('#ckpt-try').addEventListener('click', tryCheckpoint);
  $('#ckpt-photo').addEventListener('change', tryCheckpoint);
  $('#ckpt-pin').addEventListener('click', pinCheckpoint);
  $('#ckpt-swipe').addEventListener('input', () => $('#ckpt-compare').style.setProperty('--x', `${$('#ckpt-swipe').value}%`));
  window.addEventListener('resize', renderChart);
}
