#include "serve/assets.h"

#include <string>

namespace ft {

namespace {

// Every page: the style sheet and the one script, which fills the page named by `data-page`.
std::string page(const std::string& name, const std::string& body) {
  return R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ftrun: )" +
         name + R"(</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body data-page=")" +
         name + R"(">
<header><a class="home" href="/">ftrun</a>
<nav class="pages"><a href="/">Runs</a> <a href="/compare">Compare</a> <a href="/overfit">Overfitting</a>
<a href="/sweeps">Sweeps</a></nav> <span id="title"></span> <span id="status"></span></header>
)" + body +
         R"(</body>
</html>
)";
}

}  // namespace

const std::string kRunsPage = page("runs", R"(
<main>
<form id="search">
<input id="where" name="where" size="60" placeholder="where: optimizer.lr &lt; 1e-3 and status = completed">
<input id="order_by" name="order_by" size="30" placeholder="order by: val_accuracy.max desc">
<input id="columns" name="columns" size="40" placeholder="columns: optimizer.lr, val_loss.min, train_loss.last">
<button type="submit">Search</button>
<a id="compare-link" href="/compare">Compare by a parameter</a>
<button id="compare-selected" type="button" disabled>Overlay the selected runs</button>
</form>
<p class="error" id="error" hidden></p>
<table id="runs">
<thead><tr><th></th><th>id</th><th>name</th><th>stage</th><th>status</th><th>seed</th><th>epochs</th><th>metric</th>
<th>best val</th><th>best val loss</th><th>test</th><th id="parameters">parameters</th></tr></thead>
<tbody></tbody>
</table>
<nav><button id="previous" type="button">Newer</button> <button id="next" type="button">Older</button></nav>
</main>
)");

const std::string kRunPage = page("run", R"(
<main>
<p class="error" id="error" hidden></p>
<section><h2>Learning curves</h2><img id="curves" alt="training (dashed) and validation (solid) loss">
<img id="learning-rate" alt="the learning rate of each parameter group at every step"></section>
<section><h2>Epochs</h2>
<table id="epochs"><thead><tr><th>epoch</th><th>train loss</th><th>val loss</th><th>train acc</th>
<th>val acc</th><th>lr</th></tr></thead><tbody></tbody></table></section>
<section><h2>Results</h2><table id="final"><tbody></tbody></table><p>checkpoint: <code id="checkpoint"></code></p>
</section>
<section><h2>Parameters</h2><p class="note">Marked <span class="default">default</span>: not written in the
experiment, filled in by ftrun or its plugin.</p><table id="params"><tbody></tbody></table></section>
<section><h2>Plugins</h2><table id="plugins"><thead><tr><th>kind</th><th>component</th><th>library</th>
<th>version</th></tr></thead><tbody></tbody></table></section>
<section><h2>Resolved experiment</h2><pre id="toml"></pre></section>
</main>
)");

const std::string kComparePage = page("compare", R"html(<main>
<form id="compare-form">
<input id="key" name="key" size="30" placeholder="parameter: optimizer.lr, backbone.lr_mult, lr/backbone">
<input id="name" name="name" size="20" placeholder="experiment name, optional">
<input id="stage" name="stage" size="14" placeholder="stage, optional">
<button type="submit">Compare</button>
</form>
<p class="error" id="error" hidden></p>
<section id="overlay" hidden><h2>Learning curves, overlaid</h2>
<img id="overlay-curves" alt="training (dashed) and validation (solid) loss of the chosen runs"></section>
<section id="by-value" hidden><h2>Best validation value against the parameter</h2>
<img id="compare-chart" alt="each run's best validation value against the parameter, the mean per value joined">
<div id="stages"></div></section>
</main>
)html");

const std::string kOverfitPage = page("overfit", R"(<main>
<form id="overfit-form">
<input id="where" name="where" size="60" placeholder="where: the runs to report, as on the runs page">
<input id="name" name="name" size="20" placeholder="experiment name, optional">
<button type="submit">Report</button>
</form>
<p class="error" id="error" hidden></p>
<p id="rule"></p>
<table id="overfit"><thead><tr><th>run</th><th>name</th><th>stage</th><th>status</th><th>monitor</th><th>best epoch</th>
<th>epochs after best</th><th>gap at best</th><th>gap at last</th><th>onset</th><th>recovered rises</th><th>curves</th>
</tr></thead><tbody></tbody></table>
</main>
)");

const std::string kSweepsPage = page("sweeps", R"(<main>
<p class="error" id="error" hidden></p>
<table id="sweeps"><thead><tr><th>sweep</th><th>name</th><th>method</th><th>objective</th><th>created</th>
<th>trials by state</th></tr></thead><tbody></tbody></table>
</main>
)");

const std::string kSweepPage = page("sweep", R"(<main>
<p class="error" id="error" hidden></p>
<p id="summary"></p>
<section><h2>Trials</h2><table id="trials"><thead><tr><th>trial</th><th>state</th><th>values</th><th>objective</th>
<th>best so far</th><th>epochs</th><th>run</th><th>host</th><th>note</th></tr></thead><tbody></tbody></table></section>
<section><h2>Objective against each parameter</h2><div id="charts"></div></section>
</main>
)");

const char* const kAppScript =
    R"(// ftrun serve: every value from the store is set as text (textContent), never parsed as HTML.
'use strict';
const token = new URLSearchParams(location.search).get('token');
const STATUSES = ['running', 'completed', 'failed', 'interrupted', 'diverged', 'pruned'];

function withToken(url) {
  if (!token) return url;
  return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}

async function getJson(url) {
  const response = await fetch(withToken(url), {cache: 'no-store'});
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '-' : String(text);
  row.appendChild(td);
  return td;
}

function number(value) { return typeof value === 'number' ? value.toFixed(4) : '-'; }

function badge(status) {
  const span = document.createElement('span');
  span.className = 'status ' + (STATUSES.includes(status) ? status : 'other');
  span.textContent = status;
  return span;
}

function showError(message) {
  const error = document.getElementById('error');
  error.textContent = message || '';
  error.hidden = !message;
}

for (const link of document.querySelectorAll('header a')) link.href = withToken(link.getAttribute('href'));

function replaceRows(tbody, rows) {
  while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
  for (const row of rows) tbody.appendChild(row);
}

// The runs page: the table of `ftrun runs`, filtered and ordered by the same language, refreshed every 2 s.
function runsPage() {
  const form = document.getElementById('search');
  const where = document.getElementById('where');
  const orderBy = document.getElementById('order_by');
  const columns = document.getElementById('columns');
  const query = new URLSearchParams(location.search);
  where.value = query.get('where') || '';
  orderBy.value = query.get('order_by') || '';
  columns.value = query.get('columns') || '';
  let shownColumns = null;
  let offset = Number(query.get('offset') || 0);
  const limit = 50;
  const selected = new Set();
  const compareSelected = document.getElementById('compare-selected');
  document.getElementById('compare-link').href = withToken('/compare');
  compareSelected.addEventListener('click', () => {
    location.href = withToken('/compare?runs=' + [...selected].join(','));
  });
  async function refresh() {
    const params = new URLSearchParams({where: where.value, order_by: orderBy.value, columns: columns.value, limit,
                                        offset});
    try {
      const answer = await getJson('/api/runs?' + params.toString());
      showError('');
      showColumnHeads(answer.columns);
      const rows = answer.runs.map(run => {
        const tr = document.createElement('tr');
        tr.dataset.run = run.id;
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.checked = selected.has(run.id);
        box.addEventListener('change', () => {
          if (box.checked) selected.add(run.id); else selected.delete(run.id);
          compareSelected.disabled = selected.size < 2;
        });
        cell(tr, '').appendChild(box);
        const link = document.createElement('a');
        link.href = withToken('/runs/' + Number(run.id));
        link.textContent = run.id;
        cell(tr, '').appendChild(link);
        cell(tr, run.name);
        cell(tr, run.stage || '-');
        cell(tr, '').appendChild(badge(run.status));
        cell(tr, run.seed);
        cell(tr, run.epochs);
        cell(tr, run.primary_metric);
        cell(tr, number(run.best_val_primary));
        cell(tr, number(run.best_val_loss));
        cell(tr, number(run.test_primary));
        for (const value of run.columns) cell(tr, typeof value === 'number' ? String(Number(value.toPrecision(6))) : value);
        cell(tr, Object.entries(run.params).filter(([key]) => /^(optimizer\.(type|lr|weight_decay)|backbone\.(lr_mult|weights))$/.test(key)).map(([key, value]) => key + '=' + value).join(' '));
        return tr;
      });
      replaceRows(document.querySelector('#runs tbody'), rows);
      document.getElementById('previous').disabled = offset === 0;
      document.getElementById('next').disabled = !answer.more;
    } catch (error) {
      showError(error.message);
    }
  }
  // The chosen columns' heads, before `parameters`; a click orders the runs by that column (again: the other way).
  function showColumnHeads(names) {
    if (shownColumns === names.join(',')) return;
    shownColumns = names.join(',');
    for (const head of document.querySelectorAll('#runs th.chosen')) head.remove();
    const parameters = document.getElementById('parameters');
    for (const name of names) {
      const head = document.createElement('th');
      head.className = 'chosen';
      head.dataset.column = name;
      head.textContent = name;
      head.title = 'order by ' + name;
      head.addEventListener('click', () => {
        orderBy.value = orderBy.value === name + ' desc' ? name + ' asc' : name + ' desc';
        form.requestSubmit();
      });
      parameters.before(head);
    }
  }
  form.addEventListener('submit', event => {
    event.preventDefault();
    offset = 0;
    const params = new URLSearchParams({where: where.value, order_by: orderBy.value, columns: columns.value});
    if (token) params.set('token', token);
    history.replaceState(null, '', '/?' + params.toString());
    refresh();
  });
  document.getElementById('previous').addEventListener('click', () => { offset = Math.max(0, offset - limit); refresh(); });
  document.getElementById('next').addEventListener('click', () => { offset += limit; refresh(); });
  refresh();
  setInterval(refresh, 2000);
}

// One run: its curves, epochs, parameters, plugins and resolved TOML; while it runs, new epochs appear within 2 s.
function runPage() {
  const id = Number(location.pathname.split('/').pop());
  let seen = -1;
  let status = '';
  async function load() {
    try {
      const run = await getJson('/api/runs/' + id);
      showError('');
      document.title = 'ftrun: run ' + id;
      document.getElementById('title').textContent = 'run ' + id + ': ' + run.name + (run.stage ? ' / ' + run.stage : '');
      const statusElement = document.getElementById('status');
      replaceRows(statusElement, [badge(run.status)]);
      document.getElementById('toml').textContent = run.config_toml;
      document.getElementById('checkpoint').textContent = run.checkpoint || 'none yet';
      replaceRows(document.querySelector('#final tbody'), Object.entries(run.final).map(([key, value]) => {
        const tr = document.createElement('tr');
        cell(tr, key);
        cell(tr, number(value));
        return tr;
      }));
      const defaults = new Set(run.defaults);
      replaceRows(document.querySelector('#params tbody'), Object.entries(run.params).map(([key, value]) => {
        const tr = document.createElement('tr');
        tr.dataset.key = key;
        cell(tr, key);
        cell(tr, value);
        cell(tr, defaults.has(key) ? 'default' : '').className = defaults.has(key) ? 'default' : '';
        if (defaults.has(key)) tr.classList.add('default');
        return tr;
      }));
      replaceRows(document.querySelector('#plugins tbody'), run.plugins.map(plugin => {
        const tr = document.createElement('tr');
        cell(tr, plugin.kind);
        cell(tr, plugin.component);
        cell(tr, plugin.library);
        cell(tr, plugin.plugin + ' ' + plugin.version);
        return tr;
      }));
      showEpochs(run.epochs);
      seen = run.epochs.length;
      status = run.status;
    } catch (error) {
      showError(error.message);
    }
  }
  function showEpochs(epochs) {
    replaceRows(document.querySelector('#epochs tbody'), epochs.map(epoch => {
      const tr = document.createElement('tr');
      tr.dataset.epoch = epoch.epoch;
      cell(tr, epoch.epoch);
      cell(tr, number(epoch.train_loss));
      cell(tr, number(epoch.val_loss));
      cell(tr, number(epoch.train_accuracy));
      cell(tr, number(epoch.val_accuracy));
      cell(tr, typeof epoch.lr === 'number' ? epoch.lr.toExponential(3) : '-');
      return tr;
    }));
    document.getElementById('curves').src = withToken('/api/runs/' + id + '/curves.svg?epochs=' + epochs.length);
    document.getElementById('learning-rate').src = withToken('/api/runs/' + id + '/lr.svg?epochs=' + epochs.length);
  }
  async function follow() {
    try {
      const answer = await getJson('/api/runs/' + id + '/epochs');
      if (answer.epochs.length !== seen || answer.status !== status) await load();
    } catch (error) {
      showError(error.message);
    }
  }
  load();
  setInterval(follow, 1500);
}

// Compare: runs overlaid (?runs=1,2,3), or every run grouped by one parameter (?key=optimizer.lr), stage by
// stage, the mean and spread over seeds per value, as `ftrun compare` and `ftrun plot --compare` answer.
function comparePage() {
  const query = new URLSearchParams(location.search);
  for (const field of ['key', 'name', 'stage']) document.getElementById(field).value = query.get(field) || '';
  const runs = (query.get('runs') || '').split(',').filter(id => /^\d+$/.test(id));
  let version = 0;
  function heading(text) {
    const title = document.createElement('h3');
    title.textContent = text;
    return title;
  }
  function stageTable(stage) {
    const table = document.createElement('table');
    table.className = 'comparison';
    const head = document.createElement('tr');
    for (const name of ['value', 'completed', 'failed', 'diverged', 'pruned', 'best val: mean ± std',
                        'final val: mean ± std', '']) {
      const th = document.createElement('th');
      th.textContent = name;
      head.appendChild(th);
    }
    table.appendChild(head);
    for (const value of stage.values) {
      const tr = document.createElement('tr');
      tr.dataset.value = value.value;
      const best = value['best_val_' + stage.metric], last = value['final_val_' + stage.metric];
      for (const text of [value.value, value.completed, value.failed, value.diverged, value.pruned,
                          number(best.mean) + ' ± ' + number(best.std), number(last.mean) + ' ± ' + number(last.std)]) {
        cell(tr, text);
      }
      cell(tr, value.best ? 'best' : '').className = value.best ? 'best' : '';
      table.appendChild(tr);
    }
    return table;
  }
  async function refresh() {
    version += 1;
    if (runs.length > 0) {
      document.getElementById('overlay').hidden = false;
      document.getElementById('overlay-curves').src = withToken('/api/curves.svg?runs=' + runs.join(',') + '&v=' + version);
    }
    const key = query.get('key');
    if (!key) return;
    const params = new URLSearchParams({key, name: query.get('name') || '', stage: query.get('stage') || ''});
    try {
      const stages = await getJson('/api/compare?' + params.toString());
      showError('');
      document.getElementById('by-value').hidden = false;
      document.getElementById('compare-chart').src = withToken('/api/compare.svg?' + params.toString() + '&v=' + version);
      replaceRows(document.getElementById('stages'), stages.map(stage => {
        const section = document.createElement('div');
        section.appendChild(heading((stage.stage ? 'stage ' + stage.stage : 'runs') + ': ' + stage.key +
            ' by best validation ' + stage.metric + (stage.higher_is_better ? ', higher is better' : ', lower is better')));
        section.appendChild(stageTable(stage));
        return section;
      }));
    } catch (error) {
      showError(error.message);
    }
  }
  submitAsQuery('compare-form', '/compare', ['key', 'name', 'stage'], runs.length > 0 ? {runs: runs.join(',')} : {});
  refresh();
  setInterval(refresh, 3000);
}

// A form that reloads `path` with its filled fields (and `extra`) as the query, so the address can be shared.
function submitAsQuery(formId, path, fields, extra) {
  document.getElementById(formId).addEventListener('submit', event => {
    event.preventDefault();
    const next = new URLSearchParams(extra);
    for (const field of fields) {
      const value = document.getElementById(field).value;
      if (value) next.set(field, value);
    }
    location.href = withToken(path + '?' + next.toString());
  });
}

function runLink(id) {
  const link = document.createElement('a');
  link.href = withToken('/runs/' + Number(id));
  link.textContent = id;
  return link;
}

// Overfitting: `ftrun overfit` per run, with each run's curves small beside its row.
function overfitPage() {
  const query = new URLSearchParams(location.search);
  for (const field of ['where', 'name']) document.getElementById(field).value = query.get(field) || '';
  async function refresh() {
    const params = new URLSearchParams({where: query.get('where') || '', name: query.get('name') || ''});
    try {
      const report = await getJson('/api/overfit?' + params.toString());
      showError('');
      document.getElementById('rule').textContent = report.rule;
      replaceRows(document.querySelector('#overfit tbody'), report.runs.map(run => {
        const tr = document.createElement('tr');
        tr.dataset.run = run.id;
        cell(tr, '').appendChild(runLink(run.id));
        cell(tr, run.name);
        cell(tr, run.stage || '-');
        cell(tr, '').appendChild(badge(run.status));
        for (const value of [run.monitor, run.best_epoch, run.epochs_after_best, number(run.gap_at_best),
                             number(run.gap_at_last), run.onset_epoch, run.recovered_rises]) {
          cell(tr, value);
        }
        const image = document.createElement('img');
        image.className = 'thumbnail';
        image.alt = 'curves of run ' + run.id;
        image.src = withToken('/api/runs/' + Number(run.id) + '/curves.svg?epochs=' + run.last_epoch);
        cell(tr, '').appendChild(image);
        return tr;
      }));
    } catch (error) {
      showError(error.message);
    }
  }
  submitAsQuery('overfit-form', '/overfit', ['where', 'name'], {});
  refresh();
  setInterval(refresh, 5000);
}

// Sweeps: each with its trials counted by state.
function sweepsPage() {
  async function refresh() {
    try {
      const sweeps = await getJson('/api/sweeps');
      showError('');
      replaceRows(document.querySelector('#sweeps tbody'), sweeps.map(sweep => {
        const tr = document.createElement('tr');
        tr.dataset.sweep = sweep.id;
        const link = document.createElement('a');
        link.href = withToken('/sweeps/' + Number(sweep.id));
        link.textContent = sweep.id;
        cell(tr, '').appendChild(link);
        cell(tr, sweep.name);
        cell(tr, sweep.method);
        cell(tr, (sweep.direction === 'min' ? 'lowest ' : 'highest ') + sweep.metric);
        cell(tr, sweep.created_at);
        cell(tr, Object.entries(sweep.trials).map(([state, count]) => count + ' ' + state).join(', '));
        return tr;
      }));
    } catch (error) {
      showError(error.message);
    }
  }
  refresh();
  setInterval(refresh, 2000);
}

// One sweep: its trials by state with the best so far, where pruned trials stopped, and the objective against
// each swept parameter (the sweep's own metric and direction).
function sweepPage() {
  const id = Number(location.pathname.split('/').pop());
  let shownKeys = '';
  let version = 0;
  async function refresh() {
    version += 1;
    try {
      const sweep = await getJson('/api/sweeps/' + id);
      showError('');
      document.getElementById('title').textContent = 'sweep ' + id + ': ' + sweep.name;
      const counts = {};
      for (const trial of sweep.trials) counts[trial.state] = (counts[trial.state] || 0) + 1;
      document.getElementById('summary').textContent = sweep.method + ' sweep of ' + sweep.experiment_file +
          ', objective ' + (sweep.direction === 'min' ? 'lowest ' : 'highest ') + sweep.metric + ': ' +
          Object.entries(counts).map(([state, count]) => count + ' ' + state).join(', ');
      replaceRows(document.querySelector('#trials tbody'), sweep.trials.map(trial => {
        const tr = document.createElement('tr');
        tr.dataset.trial = trial.number;
        cell(tr, trial.number);
        cell(tr, '').appendChild(badge(trial.state));
        cell(tr, Object.entries(trial.values).map(([key, value]) => key + ' = ' + value).join(', '));
        cell(tr, number(trial.objective));
        cell(tr, number(trial.best_so_far));
        cell(tr, trial.state === 'pruned' ? 'stopped after ' + trial.epochs : trial.epochs);
        const runCell = cell(tr, trial.run_id === null ? '-' : '');
        if (trial.run_id !== null) runCell.appendChild(runLink(trial.run_id));
        cell(tr, trial.host || '-');
        cell(tr, trial.error || '');
        return tr;
      }));
      const charts = document.getElementById('charts');
      if (shownKeys !== sweep.keys.join(',')) {
        shownKeys = sweep.keys.join(',');
        replaceRows(charts, sweep.keys.map(key => {
          const image = document.createElement('img');
          image.dataset.key = key;
          image.alt = sweep.metric + ' against ' + key;
          return image;
        }));
      }
      for (const image of charts.querySelectorAll('img')) {
        const params = new URLSearchParams({key: image.dataset.key, v: version});
        image.src = withToken('/api/sweeps/' + id + '/chart.svg?' + params.toString());
      }
    } catch (error) {
      showError(error.message);
    }
  }
  refresh();
  setInterval(refresh, 2000);
}

if (document.body.dataset.page === 'runs') runsPage();
if (document.body.dataset.page === 'overfit') overfitPage();
if (document.body.dataset.page === 'sweeps') sweepsPage();
if (document.body.dataset.page === 'sweep') sweepPage();
if (document.body.dataset.page === 'compare') comparePage();
if (document.body.dataset.page === 'run') runPage();
)";

const char* const kStyleSheet = R"(body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
header { background: #263238; color: #fff; padding: 0.6em 1em; }
header a.home { color: #fff; font-weight: bold; text-decoration: none; margin-right: 1em; }
main { padding: 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 0.8em; overflow: auto; }
img#curves, img#learning-rate, img#overlay-curves, img#compare-chart { max-width: 100%; }
td.best { color: #2e7d32; font-weight: bold; }
tr.default td { color: #777; }
span.default, td.default { font-size: 0.8em; color: #555; background: #eceff1; border-radius: 0.6em; padding: 0 0.5em; }
th.chosen { cursor: pointer; text-decoration: underline dotted; }
p.note { color: #555; font-size: 0.9em; }
img.thumbnail { width: 240px; }
#charts img { max-width: 48%; margin: 0.5em; }
header nav.pages { display: inline; margin-right: 1em; }
header nav.pages a { color: #cfd8dc; margin-right: 0.6em; }
.error { color: #b00020; white-space: pre-wrap; font-family: monospace; }
.status { border-radius: 0.8em; padding: 0.1em 0.6em; font-size: 0.85em; color: #fff; background: #777; }
.status.running { background: #1565c0; }
.status.completed { background: #2e7d32; }
.status.failed { background: #c62828; }
.status.diverged { background: #6a1b9a; }
.status.pruned { background: #ef6c00; }
.status.interrupted { background: #546e7a; }
form input, form button, nav button { font-size: 0.95em; padding: 0.3em; }
)";

}  // namespace ft
