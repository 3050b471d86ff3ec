// models.js: the Models view: every version of every model with its card,
// thumbnail and state; serve a version (pin, or roll back to an older one)
// and back to newest, each after a confirmation. Changes need the token.
import { $, confirmed, retryingSrc, show } from './ui.js';
import { call, describe, json } from './api.js';

const SHOWN = 12;   // versions shown before "show all"

function modelsError(text) {
  $('#models-error').textContent = text;
  show($('#models-error'), !!text);
}

async function change(name, version) {
  const newest = version === null;
  const q = newest ? `Serve the newest version of ${name} again, and drop the pin?`
    : `Serve ${name} version ${version} to every request for ${name}? It stays pinned until you change it.`;
  if (!(await confirmed(q, newest ? 'Back to newest' : `Serve version ${version}`))) return;
  try {
    await call(`/models/${encodeURIComponent(name)}/current`, newest ? { method: 'DELETE', auth: true } : {
      method: 'PUT', auth: true, body: JSON.stringify({ version }), headers: { 'Content-Type': 'application/json' },
    });
    modelsError('');
  } catch (e) {
    modelsError(describe(e));
  }
  loadModels();
}

function text(tag, content, cls) {
  const e = document.createElement(tag);
  e.textContent = content;
  if (cls) e.className = cls;
  return e;
}

function renderModel(m, all) {
  const c = m.card || {};
  const box = document.createElement('article');
  box.className = 'model';
  box.setAttribute('aria-labelledby', `model-${m.name}`);
  const head = document.createElement('header');
  const h = text('h3', c.title || m.name);
  h.id = `model-${m.name}`;
  const state = m.error ? `last load error: ${m.error}` : m.ready ? `serving version ${m.loaded ?? m.current}`
    : 'nothing served yet (only candidates)';
  head.append(h, text('span', `${m.name} · ${state}${m.pinned ? ` · pinned to v${m.pinned}` : ''}${m.default ? ' · default' : ''}`, 'hint'));
  box.append(head);
  const facts = [c.style && c.style !== c.title ? `Style: ${c.style}` : '', c.license ? `Licence: ${c.license}` : '',
    c.source ? `Source: ${c.source}` : ''].filter(Boolean);
  if (facts.length) box.append(text('p', facts.join(' · '), 'hint'));
  if (c.description) box.append(text('p', c.description));
  if (m.pinned) {
    const b = text('button', 'Back to newest');
    b.type = 'button';
    b.addEventListener('click', () => change(m.name, null));
    box.append(b);
  }
  const list = document.createElement('div');
  list.className = 'versions';
  const versions = [...m.versions].reverse();
  const detail = new Map((m.versions_detail || []).map((d) => [d.version, d]));
  const servedVersion = m.ready ? (m.loaded ?? m.current) : null;
  for (const v of all ? versions : versions.slice(0, SHOWN)) {
    const served = v === servedVersion;
    const d = detail.get(v);
    const card = document.createElement('div');
    card.className = `version${served ? ' served' : ''}`;
    const img = document.createElement('img');
    img.loading = 'lazy';
    img.width = 160;
    img.height = 112;
    retryingSrc(img, `/models/${encodeURIComponent(m.name)}/thumbnail?version=${v}`);
    img.alt = `Our sample photo painted by ${m.name} version ${v}`;
    const line = document.createElement('div');
    line.className = 'row';
    line.append(text('strong', `v${v}`));
    if (served) line.append(text('span', 'served', 'badge'));
    if (m.pinned === v) line.append(text('span', 'pinned', 'badge pin'));
    if (v === versions[0]) line.append(text('span', 'newest', 'hint'));
    if (d && d.state !== 'servable') line.append(text('span', d.state, `badge state-${d.state}`));
    card.append(img, line);
    // What the promotion gate said of a training job's candidate.
    if (d?.gate) card.append(text('small', d.gate.passed ? 'The gate passed it.' : `The gate refused it: ${d.gate.reasons}`, 'hint'));
    if (!served) {
      const b = text('button', servedVersion && v < servedVersion ? `Roll back to v${v}` : `Serve v${v}`);
      b.type = 'button';
      b.addEventListener('click', () => change(m.name, v));
      card.append(b);
    }
    list.append(card);
  }
  box.append(list);
  if (!all && versions.length > SHOWN) {
    const more = text('button', `Show all ${versions.length} versions`);
    more.type = 'button';
    more.addEventListener('click', () => box.replaceWith(renderModel(m, true)));
    box.append(more);
  }
  return box;
}

export async function loadModels() {
  const out = $('#model-list');
  try {
    const { models } = await json('/models');
    const detailed = await Promise.all(models.map((m) => json(`/models/${encodeURIComponent(m.name)}`)));
    out.textContent = '';
    if (!detailed.length) out.append(text('p', 'No model is installed.', 'hint'));
    for (const m of detailed) out.append(renderModel(m, false));
  } catch (e) {
    modelsError(describe(e));
  }
}

export function initModels() {}
