// api.js: the service's HTTP API as the studio uses it, and its errors in
// words. Same origin only; the management token lives in sessionStorage.

const TOKEN_KEY = 'atelier.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

// An error carrying the problem+json body (or what stood for it).
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.param = problem.param || null;
    this.retryAfter = retryAfter;
  }
}

async function problemOf(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = { title: res.statusText };
  }
  const ra = parseInt(res.headers.get('Retry-After') || '', 10);
  return new ApiError(res.status, body, Number.isFinite(ra) ? ra : null);
}

// fetch() that throws ApiError for a status >= 400; auth adds the token.
export async function call(path, { method = 'GET', body, headers = {}, auth = false } = {}) {
  const h = { ...headers };
  if (auth && token.get()) h.Authorization = `Bearer ${token.get()}`;
  let res;
  try {
    res = await fetch(path, { method, body, headers: h });
  } catch (e) {
    throw new ApiError(0, { title: 'The server cannot be reached', detail: `${e.message}: is atelier serve running?` }, null);
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

export const json = async (path, opts) => (await call(path, opts)).json();

// POST /stylize: returns {blob, model, timing, w, h}.
export async function stylize(file, params) {
  const q = new URLSearchParams(params);
  const res = await call(`/stylize?${q}`, {
    method: 'POST',
    body: file,
    headers: { 'Content-Type': file.type === 'image/png' ? 'image/png' : 'image/jpeg' },
  });
  return {
    blob: await res.blob(),
    model: res.headers.get('X-Atelier-Model') || '',
    timing: parseTiming(res.headers.get('Server-Timing') || ''),
  };
}

// "decode;dur=1.2, infer;dur=30" -> {decode: 1.2, infer: 30}
export function parseTiming(v) {
  const out = {};
  for (const part of v.split(',')) {
    const m = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (m) out[m[1]] = parseFloat(m[2]);
  }
  return out;
}

// The size to send instead, for a 413: the long side scaled down so that
// the pixels, or the bytes, fit the limit the server named (10% margin).
function smaller(p, photo) {
  if (!photo) return '';
  const long = Math.max(photo.w, photo.h);
  let scale = 0;
  const px = /above the limit of (\d+)/.exec(p.detail || '');
  const mib = /limit of (\d+) MiB/.exec(p.detail || '');
  if (px) scale = Math.sqrt(parseInt(px[1], 10) / (photo.w * photo.h));
  else if (mib && photo.bytes) scale = Math.sqrt((parseInt(mib[1], 10) * 1048576) / photo.bytes);
  if (!(scale > 0 && scale < 1)) return '';
  return ` Scale it down to at most ${Math.floor(long * scale * 0.9)} pixels on its long side` +
    `${mib ? ' (or save it as a JPEG)' : ''} and try again.`;
}

// A sentence for a person: what went wrong and what to do. photo, when
// known: {w, h, bytes} of the image sent.
export function describe(err, photo) {
  const p = err.problem || {};
  const detail = p.detail ? ` (${p.detail})` : '';
  switch (err.status) {
    case 0:
      return `${p.title}. ${p.detail}`;
    case 401:
      return 'The server refused the token: check the management token on the Train tab.';
    case 403:
      return `The server's management API is off${detail}.`;
    case 404:
      return `Not found${detail}.`;
    case 413:
      return `This photo is too large for the server${detail}.` +
        (smaller(p, photo) || ' Send a smaller photo: fewer pixels, or a JPEG instead of a PNG.');
    case 415:
      return `This is not a file the server can read${detail}. Send a JPEG or PNG photo.`;
    case 422:
      return `The server could not read this image${detail}. Send a JPEG or PNG photo that opens in an image viewer.`;
    case 503:
      return `The server is busy${detail}.`;
    case 507:
      return `The server's disk is full${detail}.`;
    default:
      return `${p.title || 'Error'}${detail}.`;
  }
}
