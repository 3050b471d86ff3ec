// stylize.js: the "Paint a photo" view. The server is asked once for the
// full-strength painting (PNG, lossless); the strength slider then moves the
// painting's CSS opacity over the photo, which is the server's own blend
// (stylize_blend: out = s * painted + (1 - s) * photo). Download asks the
// server again at the chosen strength, from the same model version.
import { $, retryingSrc, show, sleep } from './ui.js';
import { ApiError, describe, json, stylize } from './api.js';

const state = {
  file: null,        // the photo (File or Blob with a name)
  photoUrl: '',
  photoSize: null,   // {w, h}
  result: null,      // {url, model, version, w, h, params}
  secPerMP: 1.0,     // learnt from the last answers
  busy: false,
};

const fileName = (f) => (f && f.name ? f.name.replace(/\.[^.]*$/, '') : 'photo');

function fit(w, h, max) {
  const s = Math.min(1, max / Math.max(w, h));
  return { w: Math.max(1, Math.round(w * s)), h: Math.max(1, Math.round(h * s)) };
}

async function setPhoto(file) {
  if (!file) return;
  if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
  state.file = file;
  state.photoUrl = URL.createObjectURL(file);
  const img = $('#photo-preview');
  img.src = state.photoUrl;
  img.alt = `Your photo: ${file.name || 'pasted image'}`;
  img.hidden = false;
  $('#drop-hint').textContent = 'Photo ready. Drop, paste or choose another, or';
  try {
    await img.decode();
    state.photoSize = { w: img.naturalWidth, h: img.naturalHeight };
    $('#photo-info').textContent = `${file.name || 'Pasted image'}: ${img.naturalWidth} × ${img.naturalHeight}, ` +
      `${(file.size / 1048576).toFixed(1)} MiB.`;
  } catch {
    state.photoSize = null;
    $('#photo-info').textContent = `${file.name || 'This file'}: the browser cannot show it; the server will say whether it can read it.`;
  }
  showError('');
}

function showError(text) {
  const el = $('#stylize-error');
  el.textContent = text;
  el.hidden = !text;
}

function selectedModel() {
  const r = document.querySelector('#gallery input[name=model]:checked');
  return r ? r.value : '';
}

function params(extra) {
  const p = { strength: '1', max_size: $('#max-size').value, format: 'png' };
  const m = selectedModel();
  if (m) p.model = m;
  if ($('#preserve').checked) p.preserve_colors = 'true';
  return { ...p, ...extra };
}

// Elapsed time against an estimate from the output's megapixels.
function startProgress() {
  const max = parseInt($('#max-size').value, 10);
  const size = state.photoSize ? fit(state.photoSize.w, state.photoSize.h, max) : { w: 1000, h: 750 };
  const estimate = Math.max(0.3, (size.w * size.h / 1e6) * state.secPerMP);
  const t0 = performance.now();
  show($('#progress'), true);
  const tick = () => {
    const el = (performance.now() - t0) / 1000;
    $('#progress-bar').value = Math.min(0.95, el / estimate);
    $('#progress-text').textContent = `Painting… ${el.toFixed(1)} s of about ${estimate.toFixed(1)} s`;
  };
  tick();
  const id = setInterval(tick, 200);
  return { t0, size, stop: () => { clearInterval(id); show($('#progress'), false); } };
}

// 503: a countdown from Retry-After, then the caller tries again.
async function countdown(err) {
  const wait = Math.max(1, Math.min(120, err.retryAfter || 5));
  for (let s = wait; s > 0; s--) {
    showError(`${describe(err)} Trying again in ${s} s…`);
    await sleep(1000);
  }
  showError('');
}

async function paint(ev) {
  ev?.preventDefault();
  if (state.busy) return;
  if (!state.file) {
    showError('Choose a photo first (or use our sample photo).');
    $('#photo').focus();
    return;
  }
  state.busy = true;
  $('#paint').disabled = true;
  showError('');
  const p = params();
  let progress = startProgress();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await stylize(state.file, p);
        const secs = (performance.now() - progress.t0) / 1000;
        state.secPerMP = Math.max(0.05, secs / Math.max(0.01, progress.size.w * progress.size.h / 1e6));
        await showResult(r, p);
        break;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 503 || attempt >= 5) throw e;
        progress.stop();
        await countdown(e);
        progress = startProgress();
      }
    }
  } catch (e) {
    showError(describe(e, state.photoSize && { ...state.photoSize, bytes: state.file.size }));
  } finally {
    progress.stop();
    state.busy = false;
    $('#paint').disabled = false;
  }
}

async function showResult(r, p) {
  if (state.result) URL.revokeObjectURL(state.result.url);
  const [model, v] = r.model.split('/v');
  const url = URL.createObjectURL(r.blob);
  const img = $('#result-image');
  img.src = url;
  $('#result-photo').src = state.photoUrl;
  $('#result-under').src = state.photoUrl;
  await img.decode();
  state.result = { url, model, version: parseInt(v, 10), w: img.naturalWidth, h: img.naturalHeight, params: p };
  show($('#result'), true);
  const t = r.timing;
  const ms = (k) => (t[k] !== undefined ? `${k} ${Math.round(t[k])} ms` : null);
  $('#result-meta').textContent = `${img.naturalWidth} × ${img.naturalHeight}, painted by ${model} version ${v}. ` +
    `Server time: ${['queue', 'decode', 'infer', 'encode'].map(ms).filter(Boolean).join(', ')}.`;
  applyStrength();
  updateCurl();
  $('#h-result').scrollIntoView({ block: 'nearest' });
}

function strength() {
  return parseInt($('#strength').value, 10) / 100;
}

function applyStrength() {
  const s = strength();
  $('#strength-out').textContent = `${Math.round(s * 100)}%`;
  $('#result-image').style.opacity = String(s);
  updateCurl();
}

function applySwipe(box, input) {
  box.style.setProperty('--x', `${input.value}%`);
}

function downloadParams() {
  const r = state.result;
  const p = { ...r.params, strength: strength().toFixed(2), format: $('#format').value, model: r.model };
  if (Number.isFinite(r.version)) p.version = String(r.version);
  return p;
}

function updateCurl() {
  if (!state.result) return;
  const p = downloadParams();
  const type = state.file.type || 'image/jpeg';
  const ext = p.format === 'png' ? 'png' : 'jpg';
  const q = new URLSearchParams(p);
  $('#curl-line').textContent = `curl -sS --fail-with-body --data-binary @${state.file.name || 'photo.jpg'} ` +
    `-H 'Content-Type: ${type}' '${location.origin}/stylize?${q}' -o painted.${ext}`;
}

async function download() {
  if (!state.result) return;
  const p = downloadParams();
  const btn = $('#download');
  btn.disabled = true;
  showError('');
  try {
    const r = await stylize(state.file, p);
    const ext = p.format === 'png' ? 'png' : 'jpg';
    const a = document.createElement('a');
    a.href = URL.createObjectURL(r.blob);
    a.download = `${fileName(state.file)}-${p.model}-v${state.result.version}-strength${Math.round(strength() * 100)}.${ext}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  } catch (e) {
    showError(describe(e));
  } finally {
    btn.disabled = false;
  }
}

// The photo chosen on this view (File), or null: the Train view tries
// checkpoints on it.
export const currentPhoto = () => state.file;

export async function loadGallery() {
  const box = $('#gallery');
  let data;
  try {
    data = await json('/models');
  } catch (e) {
    $('#gallery-empty').textContent = `The styles could not be listed: ${describe(e)}`;
    return;
  }
  const keep = selectedModel();
  box.querySelectorAll('.style-card').forEach((n) => n.remove());
  $('#gallery-empty').hidden = data.models.length > 0;
  if (!data.models.length) $('#gallery-empty').textContent = 'No model is installed: put one in the model repository.';
  for (const m of data.models) {
    const c = m.card || {};
    const id = `style-${m.name}`;
    const label = document.createElement('label');
    label.className = 'style-card';
    label.htmlFor = id;
    const input = document.createElement('input');
    Object.assign(input, { type: 'radio', name: 'model', value: m.name, id, disabled: !m.ready });
    input.checked = keep ? keep === m.name : m.default;
    const img = document.createElement('img');
    img.alt = '';
    img.width = 160;
    img.height = 112;
    img.loading = 'lazy';
    if (m.ready) retryingSrc(img, `/models/${encodeURIComponent(m.name)}/thumbnail?version=${m.current}`);
    const text = document.createElement('span');
    text.className = 'style-text';
    const title = document.createElement('strong');
    title.textContent = c.title || m.name;
    const meta = document.createElement('small');
    meta.textContent = [`${m.name} v${m.current}`, c.license ? `licence: ${c.license}` : '',
      m.ready ? '' : 'not loaded'].filter(Boolean).join(' · ');
    text.append(title, meta);
    label.append(input, img, text);
    box.append(label);
  }
}

export function initStylize() {
  $('#stylize-form').addEventListener('submit', paint);
  $('#photo').addEventListener('change', (e) => setPhoto(e.target.files[0]));
  $('#camera').addEventListener('change', (e) => setPhoto(e.target.files[0]));
  $('#use-sample').addEventListener('click', async () => {
    const blob = await (await fetch('/ui/sample.jpg')).blob();
    await setPhoto(new File([blob], 'sample.jpg', { type: 'image/jpeg' }));
  });
  const drop = $('#drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) setPhoto(e.dataTransfer.files[0]);
  });
  document.addEventListener('paste', (e) => {
    if (location.hash && location.hash !== '#stylize') return;
    const f = [...(e.clipboardData?.files || [])][0];
    if (f) setPhoto(f.name ? f : new File([f], 'pasted.png', { type: f.type }));
  });
  $('#strength').addEventListener('input', applyStrength);
  $('#format').addEventListener('change', updateCurl);
  $('#download').addEventListener('click', download);
  const swipe = $('#swipe');
  swipe.addEventListener('input', () => applySwipe($('#compare'), swipe));
  applySwipe($('#compare'), swipe);
  for (const r of document.querySelectorAll('input[name=mode]'))
    r.addEventListener('change', () => {
      const beside = $('#mode-beside').checked;
      $('#compare').classList.toggle('swipe', !beside);
      $('#compare').classList.toggle('beside', beside);
      show($('.swipe-row'), !beside);
    });
  $('#copy-curl').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('#curl-line').textContent);
      $('#copy-done').textContent = 'Copied.';
    } catch {
      $('#copy-done').textContent = 'Select the line and copy it (the browser refused the clipboard).';
    }
  });
}
