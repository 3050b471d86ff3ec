// helpers.mjs: what the browser tests share: the real `atelier serve` on
// port 0 with a temporary model repository and data folder, Debian's
// chromium through playwright-core, pages that record every console error
// and CSP violation, test pictures drawn by the browser, and screenshots
// (written to docs/studio/ only when ATELIER_SHOTS=1: `make studio-shots`).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = resolve(ROOT, process.env.BUILD || 'build');
export const TOKEN = 'studio-test-token';

// The browser, or null when none is installed (the tests then skip).
export function chromiumPath() {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'])
    if (p && existsSync(p)) return p;
  return null;
}

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; fails after ms with what.
export async function until(fn, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Starts the server: the shipped models (copied; `versions` extra copies of
// the shipped version as v1..vN of model "twin"), --data in a temporary
// folder, the token, and args. Returns {url, dir, stop()}.
export async function startServer({ args = [], twin = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-studio-'));
  const models = join(dir, 'models');
  mkdirSync(models);
  cpSync(join(ROOT, 'models/starry_night'), join(models, 'starry_night'), { recursive: true,
    filter: (s) => !s.includes('/.train') && !s.endsWith('.preview.jpg') });
  if (twin) {
    const src = readdirVersion(join(ROOT, 'models/starry_night'));
    mkdirSync(join(models, 'twin'));
    for (let v = 1; v <= twin; v++) cpSync(src, join(models, 'twin', `v${v}.safetensors`));
  }
  const portFile = join(dir, 'port');
  const log = [];
  const child = spawn(join(BUILD, 'atelier'), ['serve', '--host', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--models', models, '--data', join(dir, 'data'), '--rescan-ms', '200', ...args],
  { env: { ...process.env, ATELIER_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d) => log.push(d.toString()));
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const port = await until(() => {
    if (exited !== null) throw new Error(`atelier serve exited (${exited}):\n${log.join('')}`);
    return existsSync(portFile) && parseInt(readFileSync(portFile, 'utf8'), 10);
  }, 'the port file');
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/readyz`).catch(() => ({}))).status === 200, 'the server to be ready');
  return {
    url,
    dir,
    log,
    async stop() {
      if (exited === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

function readdirVersion(folder) {
  const f = readFileSync(join(folder, 'card.json'), 'utf8');
  const v = JSON.parse(f).training?.version;
  const p = join(folder, `v${v}.safetensors`);
  if (!existsSync(p)) throw new Error(`${p} is missing`);
  return p;
}

// A page that records console errors, page errors and CSP violations in
// page.problems; viewport desktop (1280x900) or phone (390x844); the
// system's colour scheme light or dark.
export async function openPage(browser, url, { phone = false, dark = false } = {}) {
  const context = await browser.newContext({
    colorScheme: dark ? 'dark' : 'light',
    viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    isMobile: phone,
    hasTouch: phone,
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === '1');
  return page;
}

// Every console error and CSP violation the page has seen (expected HTTP
// error answers excluded: the browser logs a failed fetch as an error).
export async function problems(page, allowStatuses = []) {
  const csp = await page.evaluate(() => window.__csp).catch(() => []);
  const allowed = allowStatuses.map((s) => `status of ${s}`);
  return [...page.problems.filter((p) => !allowed.some((a) => p.includes(a))), ...csp.map((c) => `CSP: ${c}`)];
}

// A w x h picture drawn in the page (gradients, circles, text), as PNG or
// JPEG bytes. noise: random pixels (which do not compress).
export async function picture(page, w, h, { type = 'image/png', quality = 0.9, noise = false } = {}) {
  const b64 = await page.evaluate(async ({ w, h, type, quality, noise }) => {
    const c = new OffscreenCanvas(w, h);
    const g = c.getContext('2d');
    if (noise) {
      const d = g.createImageData(w, h);
      for (let i = 0; i < d.data.length; i += 65536) crypto.getRandomValues(d.data.subarray(i, i + 65536));
      for (let i = 3; i < d.data.length; i += 4) d.data[i] = 255;
      g.putImageData(d, 0, 0);
    } else {
      const grad = g.createLinearGradient(0, 0, w, h);
      grad.addColorStop(0, '#2a6fdb'); grad.addColorStop(0.5, '#f4d35e'); grad.addColorStop(1, '#d1495b');
      g.fillStyle = grad;
      g.fillRect(0, 0, w, h);
      g.fillStyle = '#1b4332';
      g.beginPath(); g.arc(w * 0.3, h * 0.6, Math.min(w, h) * 0.2, 0, 7); g.fill();
      g.fillStyle = '#ffffff';
      g.fillRect(w * 0.6, h * 0.2, w * 0.2, h * 0.3);
    }
    const blob = await c.convertToBlob({ type, quality });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode(...bytes.subarray(i, i + 32768));
    return btoa(s);
  }, { w, h, type, quality, noise });
  return Buffer.from(b64, 'base64');
}

// Width and height from a PNG's IHDR or a JPEG's SOF marker.
export function imageSize(buf) {
  if (buf.subarray(1, 4).toString() === 'PNG') return { w: buf.readUInt32BE(16), h: buf.readUInt32BE(20) };
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) return null;
    const m = buf[i + 1];
    if (m >= 0xc0 && m <= 0xc3) return { w: buf.readUInt16BE(i + 7), h: buf.readUInt16BE(i + 5) };
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return null;
}

// A screenshot into docs/studio/NAME.png when ATELIER_SHOTS=1.
export async function shot(page, name) {
  if (process.env.ATELIER_SHOTS !== '1') return;
  const out = join(ROOT, 'docs/studio');
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
}
