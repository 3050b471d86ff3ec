// app.js: Atelier Studio's entry: the three views behind #stylize, #train
// and #models, and which one the address shows. The helpers the views
// share are ui.js's.
import { $, show } from './ui.js';
import { initStylize, loadGallery } from './stylize.js';
import { initTrain, enterTrain, leaveTrain } from './train.js';
import { initModels, loadModels } from './models.js';

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
