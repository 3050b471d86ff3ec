// ui.js: the small page helpers every view uses (the views import them
// from here, and app.js imports the views, so no module imports its caller).
export const $ = (sel, root = document) => root.querySelector(sel);
export const show = (el, on) => { el.hidden = !on; };
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sets an image's source, trying again twice a few seconds apart when it
// fails (a thumbnail is painted on first request and may meet a busy
// server).
export function retryingSrc(img, src) {
  let tries = 0;
  img.onerror = () => {
    if (++tries <= 2) setTimeout(() => { img.removeAttribute('src'); img.src = src; }, 3000 * tries);
  };
  img.src = src;
}

// A yes/no question in the page's own dialog: resolves true on "Yes".
export function confirmed(text, yes = 'Yes') {
  const d = $('#confirm');
  $('#confirm-text').textContent = text;
  $('#confirm-yes').textContent = yes;
  d.returnValue = '';
  d.showModal();
  $('#confirm-no').focus();
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
  });
}
