// The Train and Models views in Chromium against the real server: the token
// (sessionStorage only), a field error next to its field, a small job whose
// curves gain points and whose checkpoint previews appear, a checkpoint
// tried on a photo against the served version and pinned (then /stylize
// answers with it), a page opened after the run drawing the whole curve, and
// the Models view's pin and back-to-newest; no console error or CSP
// violation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumPath, launch, openPage, picture, problems, shot, startServer, TOKEN, until } from './helpers.mjs';

const skip = chromiumPath() ? false : 'no chromium installed (tools/install-deps.sh installs it)';
const STEPS = 40;
let server, browser;

before(async () => {
  if (skip) return;
  server = await startServer({ args: ['--workers', '2'] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  const status = await server?.stop();
  if (server) assert.equal(status, 0, server.log.join(''));
});

async function useToken(page) {
  await page.goto(`${server.url}/#train`);
  await page.fill('#token', TOKEN);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#train-body:not([hidden])');
  await page.waitForSelector('#cfg-steps', { state: 'attached' });
}

async function fill(page, fields) {
  for (const [k, v] of Object.entries(fields)) await page.fill(`#cfg-${k}`, String(v));
}

test('train: token, a field error, a job with live curves and previews, try and pin a checkpoint', { skip }, async () => {
  const page = await openPage(browser, server.url);
  await useToken(page);
  // The token lives in this tab's sessionStorage only.
  const stored = await page.evaluate(() => [sessionStorage.getItem('atelier.token'), localStorage.length, document.cookie]);
  assert.deepEqual(stored, [TOKEN, 0, '']);
  const painting = await picture(page, 96, 96, { type: 'image/jpeg' });
  const photos = [];
  for (let i = 0; i < 8; i++) photos.push({ name: `p${i}.png`, mimeType: 'image/png', buffer: await picture(page, 64 + 8 * i, 48) });
  // The recipes: a quick look, the server's named presets, its defaults.
  assert.deepEqual(await page.$$eval('#job-preset option', (os) => os.map((o) => o.value)),
    ['quick', 'preset:starry_night', 'preset:the_scream', 'preset:composition_vii',
      'preset:woman_with_a_hat', 'preset:the_kiss', 'preset:palette', 'defaults']);
  await page.fill('#job-name', 'studio');
  await page.setInputFiles('#job-style', { name: 'painting.jpg', mimeType: 'image/jpeg', buffer: painting });
  await page.setInputFiles('#job-content', photos);
  await page.click('#job-advanced summary');
  // A size the server refuses: its words next to the size field.
  await fill(page, { steps: STEPS, size: 66, checkpoint_every: 10, width: 8, blocks: 1, style_depth: 2, structure_depth: 2 });
  await page.click('#job-submit');
  await page.waitForSelector('#cfg-size-error:not([hidden])');
  assert.match(await page.textContent('#cfg-size-error'), /size/);
  assert.equal(await page.getAttribute('#cfg-size', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cfg-size');
  // Every count of points the chart draws, from now on.
  await page.evaluate(() => {
    window.__counts = [];
    new MutationObserver(() => {
      const l = document.querySelector('#chart polyline.smooth[data-series=style]');
      const n = l ? l.getAttribute('points').split(' ').filter(Boolean).length : 0;
      if (window.__counts.at(-1) !== n) window.__counts.push(n);
    }).observe(document.getElementById('chart'), { childList: true, subtree: true, attributes: true });
  });
  await fill(page, { size: 32 });
  // Its candidates are promoted by hand only: nothing is served until then.
  await page.selectOption('#cfg-promote', 'never');
  await page.click('#job-submit');
  await page.waitForSelector('#job:not([hidden])');
  await page.waitForSelector('#jobs tbody tr');
  // The curve grows to one point a step; the previews appear.
  await until(() => page.evaluate((n) => window.__counts.at(-1) === n, STEPS), `${STEPS} points on the chart`, 180000);
  const counts = await page.evaluate(() => window.__counts);
  assert.ok(counts.length >= 2 && counts[0] < STEPS, `the curve never grew: ${counts}`);
  await page.waitForFunction(() => /succeeded/.test(document.getElementById('job-summary').textContent), null, { timeout: 60000 });
  await page.waitForFunction(() => document.getElementById('ckpt-preview').naturalWidth > 0);
  assert.equal(await page.getAttribute('#ckpt-step', 'max'), '3');
  assert.equal(await page.inputValue('#ckpt-step'), '3');
  assert.match(await page.textContent('#ckpt-out'), /version 4, step 40/);
  await page.click('#job-advanced summary');
  await shot(page, 'train');
  // The step slider: the preview of the first checkpoint.
  await page.fill('#ckpt-step', '0');
  await page.waitForFunction(() => /\/1$/.test(document.getElementById('ckpt-preview').dataset.key)
    && document.getElementById('ckpt-preview').complete && document.getElementById('ckpt-preview').naturalWidth > 0);
  assert.match(await page.textContent('#ckpt-out'), /version 1, step 10/);
  // Its state and the gate's verdict.
  await page.waitForFunction(() => /^Version 1: (candidate|refused)/.test(document.getElementById('ckpt-gate').textContent));
  // Try it on a photo (the sample, chosen on the Paint view), against the
  // served version: none yet, so against the photo.
  await page.goto(`${server.url}/#stylize`);
  await page.click('#use-sample');
  await page.waitForFunction(() => /×/.test(document.getElementById('photo-info').textContent));
  await page.goto(`${server.url}/#train`);
  await page.click('#jobs tbody tr button');
  await page.waitForFunction(() => document.getElementById('ckpt-preview').naturalWidth > 0);
  await page.fill('#ckpt-step', '0');
  await page.click('#ckpt-try');
  await page.waitForFunction(() => ['ckpt-candidate', 'ckpt-served'].every((id) => document.getElementById(id).naturalWidth > 0));
  assert.equal(await page.textContent('#ckpt-cand-cap'), 'Checkpoint: studio/v1');
  assert.equal(await page.textContent('#ckpt-served-cap'), 'Nothing served yet: your photo');
  assert.deepEqual(await page.$eval('#ckpt-candidate', (i) => [i.naturalWidth, i.naturalHeight]), [320, 224]);
  // A photo chosen right here is tried at once.
  await page.setInputFiles('#ckpt-photo', { name: 'here.png', mimeType: 'image/png', buffer: await picture(page, 100, 80) });
  await page.waitForFunction(() => ['ckpt-candidate', 'ckpt-served'].every((id) => document.getElementById(id).naturalWidth === 100));
  // Pin it, after the confirmation; /stylize then answers with v1.
  await page.click('#ckpt-pin');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-yes');
  await page.waitForFunction(() => /now serves version 1/.test(document.getElementById('ckpt-status').textContent));
  const res = await fetch(`${server.url}/stylize?model=studio`, {
    method: 'POST', body: await picture(page, 40, 30), headers: { 'Content-Type': 'image/png' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('X-Atelier-Model'), 'studio/v1');
  // 400: the size refused; 404: nothing served yet when the checkpoint was tried.
  assert.deepEqual(await problems(page, [400, 404]), []);
  await page.close();
});

test('a page opened after the run draws the whole curve from the history', { skip }, async () => {
  const page = await openPage(browser, server.url);
  await page.evaluate((t) => sessionStorage.setItem('atelier.token', t), TOKEN);
  await page.goto(`${server.url}/#train`);
  await page.click('#jobs tbody tr button');
  await page.waitForFunction((n) => {
    const l = document.querySelector('#chart polyline.smooth[data-series=style]');
    return l && l.getAttribute('points').split(' ').length === n;
  }, STEPS);
  // Log scale off and smoothing off: the raw line is the smoothed one.
  await page.uncheck('#logy');
  await page.fill('#smooth', '0');
  const same = await page.evaluate(() => document.querySelector('#chart polyline.raw.s3').getAttribute('points') ===
    document.querySelector('#chart polyline.smooth.s3').getAttribute('points'));
  assert.ok(same);
  // Pointing reads the values; dragging zooms into steps; "Fit all" undoes it.
  const box = await page.locator('#chart').boundingBox();
  const xTicks = () => page.$$eval('#chart text', (ts) => ts.filter((t) => +t.getAttribute('y') > 240).map((t) => t.textContent).join(','));
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  assert.match(await page.textContent('#chart-readout'), /^step \d+: discriminator [\d.e+-]+ · adversarial/);
  const before = await xTicks();
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const zoomed = await xTicks();
  assert.notEqual(zoomed, before);
  await page.click('#zoom-reset');
  assert.equal(await xTicks(), before);
  assert.deepEqual(await problems(page), []);
  await page.close();
});

test('the checkpoint slider follows the newest, but not while it is held', { skip }, async () => {
  const page = await openPage(browser, server.url);
  // A long job (cancelled at the end), submitted from here.
  const form = new FormData();
  form.append('style', new Blob([await picture(page, 96, 96, { type: 'image/jpeg' })], { type: 'image/jpeg' }), 'p.jpg');
  for (let i = 0; i < 8; i++) form.append('content', new Blob([await picture(page, 64, 48)], { type: 'image/png' }), `c${i}.png`);
  form.append('config', JSON.stringify({ name: 'held', steps: 100000, size: 32, checkpoint_every: 5, width: 8, blocks: 1,
    style_depth: 2, structure_depth: 2 }));
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const sub = await fetch(`${server.url}/train`, { method: 'POST', body: form, headers: auth });
  assert.equal(sub.status, 202);
  const { id } = await sub.json();
  await page.evaluate((t) => sessionStorage.setItem('atelier.token', t), TOKEN);
  await page.goto(`${server.url}/#train`);
  await page.locator('#jobs tbody tr', { hasText: 'held' }).locator('button', { hasText: 'Open' }).click();
  const slider = page.locator('#ckpt-step');
  const at = () => page.evaluate(() => { const e = document.getElementById('ckpt-step'); return [+e.value, +e.max]; });
  await until(async () => (await at())[1] >= 1, 'two checkpoints', 120000);
  // Left at the end, it follows each new checkpoint.
  const [, m0] = await at();
  await until(async () => { const [v, m] = await at(); return m > m0 && v === m; }, 'the slider to follow', 120000);
  // Held at the end, it stays where it is while newer ones arrive.
  await slider.scrollIntoViewIfNeeded();
  const box = await slider.boundingBox();
  await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
  await page.mouse.down();
  const [held, m1] = await at();
  assert.equal(held, m1);
  await until(async () => (await at())[1] > m1, 'a newer checkpoint', 120000);
  assert.equal((await at())[0], held, 'the held slider jumped');
  await page.mouse.up();
  assert.equal((await fetch(`${server.url}/train/${id}`, { method: 'DELETE', headers: auth })).status, 200);
  await until(async () => (await (await fetch(`${server.url}/train/${id}`, { headers: auth })).json()).state === 'cancelled',
    'the job to stop', 120000);
  assert.deepEqual(await problems(page), []);
  await page.close();
});

test('models: every version with its thumbnail and gate verdict; serve one, then back to newest, each confirmed', { skip }, async () => {
  const page = await openPage(browser, server.url);
  await page.evaluate((t) => sessionStorage.setItem('atelier.token', t), TOKEN);
  await page.goto(`${server.url}/#models`);
  const model = page.locator('article.model', { hasText: 'studio · ' });
  await model.waitFor();
  assert.match(await model.textContent(), /pinned to v1/);
  assert.equal(await model.locator('.version').count(), 4);
  // Each candidate says what the promotion gate decided.
  assert.equal(await model.locator('.version', { hasText: /The gate (passed|refused)/ }).count(), 4);
  await page.waitForFunction(() => [...document.querySelectorAll('.version img')].every((i) => i.complete && i.naturalWidth === 320),
    null, { timeout: 60000 });
  await shot(page, 'models');
  // Serve v3: asked first; cancelling changes nothing.
  await model.locator('button', { hasText: 'Serve v3' }).click();
  await page.click('#confirm-no');
  assert.equal((await (await fetch(`${server.url}/models/studio`)).json()).current, 1);
  await model.locator('button', { hasText: 'Serve v3' }).click();
  await page.click('#confirm-yes');
  await until(async () => (await (await fetch(`${server.url}/models/studio`)).json()).current === 3, 'v3 served');
  await page.locator('article.model', { hasText: 'pinned to v3' }).waitFor();
  await page.locator('article.model', { hasText: 'studio · ' }).locator('button', { hasText: 'Back to newest' }).click();
  await page.click('#confirm-yes');
  const m = await until(async () => {
    const j = await (await fetch(`${server.url}/models/studio`)).json();
    return j.pinned === null && j;
  }, 'unpinned');
  // Back to the newest version that may be served: v3, served by hand; v4
  // is a candidate the job never promoted (promote: never).
  assert.equal(m.current, 3);
  assert.equal(m.versions_detail.find((d) => d.version === 4).state === 'servable', false);
  assert.deepEqual(await problems(page), []);
  await page.close();
});

test('phone width: the Train and Models views fit the screen', { skip }, async () => {
  const page = await openPage(browser, server.url, { phone: true });
  await page.evaluate((t) => sessionStorage.setItem('atelier.token', t), TOKEN);
  for (const view of ['train', 'models']) {
    await page.goto(`${server.url}/#${view}`);
    if (view === 'train') {
      await page.click('#jobs tbody tr button');
      await page.waitForFunction(() => document.getElementById('ckpt-preview').naturalWidth > 0);
    } else {
      await page.waitForSelector('article.model');
    }
    await shot(page, `${view}-phone`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `#${view} is ${overflow}px wider than the phone`);
  }
  assert.deepEqual(await problems(page), []);
  await page.close();
});
