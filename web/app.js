// app.js: Atelier Studio's entry: the three views behind #stylize, #train
// and #models, and the small helpers the views share.
import { initStylize, loadGallery } from './stylize.js';
import { initTrain, enterTrain, leaveTrain } from './train.js';
import { initModels, loadModels } from './models.js';

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

const views = ['stylize', 'train', 'models'];

function route() {
  const name = views.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'stylize';
  for (const v of views) {
    show($(`#view-${v}`), v === name);
    const a = $(`#nav-${v}`);
    if (v === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${$(`#nav-${name}`).textContent} · Atelier Studio`;
  if (name === 'train') enterTrain();
  else leaveTrain();
  if (name === 'models') loadModels();
  if (name === 'stylize') loadGallery();
}

initStylize();
initTrain();
initModels();
window.addEventListener('hashchange', () => {
  route();
  $('#main').focus({ preventScroll: true });
});
route();
document.documentElement.dataset.ready = '1';
