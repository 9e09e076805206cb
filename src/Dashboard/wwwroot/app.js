// The RaySharp dashboard's web UI: plain JavaScript, no build step, nothing loaded from outside this origin.
// Every piece of cluster data reaches the page through text nodes (h() below), never through HTML parsing, so actor
// names, entrypoints and log lines cannot add markup.
'use strict';
(() => {
  const TOKEN_KEY = 'raysharp.clusterToken';
  const LIST_LIMIT = 1000;
  const TASK_STATES = ['PENDING_ARGS_AVAIL', 'PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER', 'RUNNING', 'FINISHED', 'FAILED'];
  const ACTOR_STATES = ['PENDING_CREATION', 'ALIVE', 'RESTARTING', 'DEAD'];
  const main = document.getElementById('main');
  let snapshot = null;   // the latest /api/events snapshot
  let page = null;       // the page on screen: { key, update(snapshot), dispose() }

  // ---- DOM helpers -------------------------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function table(name, columns, rows, emptyText) {
    if (rows.length === 0) return h('div', { class: 'empty', 'data-table': name }, emptyText);
    return h('table', { 'data-table': name },
      h('thead', {}, h('tr', {}, columns.map(c => h('th', {}, c)))),
      h('tbody', {}, rows));
  }

  const td = (content, cls) => h('td', cls ? { class: cls } : {}, content);
  const hashLink = (path, text, title) => h('a', { href: '#/' + path.map(encodeURIComponent).join('/'), title }, text);
  // The first 8 hex digits name a node or actor; an ID that starts with zeros (an actor's creation task) is told apart by its end.
  const shortId = (id) => !id ? h('span', { class: 'muted' }, '—')
    : h('span', { class: 'id', title: id }, /^0{8}/.test(id) ? '…' + id.slice(-8) : id.slice(0, 8));

  function badge(state) {
    const s = String(state || 'UNKNOWN').toUpperCase();
    const cls = ['ALIVE', 'FINISHED', 'SUCCEEDED', 'CREATED'].includes(s) ? 'ok'
      : ['RUNNING', 'SUBMITTED_TO_WORKER'].includes(s) ? 'run'
      : ['DEAD', 'FAILED', 'REMOVED'].includes(s) ? 'bad'
      : ['STOPPED'].includes(s) ? '' : 'wait';
    return h('span', { class: 'badge ' + cls, 'data-state': s }, s);
  }

  function fmtTime(ms) {
    if (!ms) return '—';
    const d = new Date(ms);
    const same = new Date().toDateString() === d.toDateString();
    return same ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || ms < 0) return '—';
    if (ms < 1000) return ms + ' ms';
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + Math.round(s - m * 60) + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  const fmtAmount = (name, v) => /memory$/.test(name) ? fmtBytes(v) : (Math.round(v * 100) / 100).toString();
  const since = (start, end) => start ? fmtDuration((end || Date.now()) - start) : '—';

  // ---- Messages and the cluster token ------------------------------------------------------------------------------

  const banner = document.getElementById('banner');
  function notify(text, kind) {
    banner.textContent = text;
    banner.dataset.kind = kind || 'info';
    banner.hidden = false;
  }
  banner.addEventListener('click', () => { banner.hidden = true; });

  const tokenPanel = document.getElementById('token-panel');
  const tokenInput = document.getElementById('token-input');
  const tokenState = document.getElementById('token-state');
  const tokenButton = document.getElementById('token-button');
  const getToken = () => sessionStorage.getItem(TOKEN_KEY);

  function showTokenState(why) {
    const has = !!getToken();
    tokenButton.dataset.hasToken = String(has);
    tokenState.textContent = why || (has ? 'A token is set for this tab.' : 'No token set.');
  }

  function askForToken(why) {
    tokenPanel.hidden = false;
    showTokenState(why);
    tokenInput.focus();
  }

  tokenButton.addEventListener('click', () => { tokenPanel.hidden = !tokenPanel.hidden; showTokenState(); });
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = tokenInput.value.trim();
    if (!value) { showTokenState('Paste the token first.'); return; }
    sessionStorage.setItem(TOKEN_KEY, value);
    tokenInput.value = '';
    showTokenState('Token saved for this tab.');
  });
  document.getElementById('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showTokenState('Token forgotten.');
  });
  showTokenState();

  // Calls that change the cluster carry the token; without one (or with a refused one) the page asks for it.
  async function act(method, url, what) {
    const token = getToken();
    if (!token) { askForToken(what + ' needs the cluster token: paste it here, then try again.'); return false; }
    let response;
    try {
      response = await fetch(url, { method, headers: { Authorization: 'Bearer ' + token } });
    } catch (e) {
      notify(what + ' failed: ' + e.message, 'error');
      return false;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      askForToken('The cluster refused that token. ' + what + ' was not done.');
      return false;
    }
    const body = await response.text();
    if (!response.ok) { notify(what + ' failed (' + response.status + '): ' + body, 'error'); return false; }
    notify(what + ': ' + body);
    return true;
  }

  // ---- Data --------------------------------------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: 'application/json' } });
    const text = await response.text();
    let body;
    try { body = JSON.parse(text); } catch { throw new Error(response.status + ': ' + text); }
    if (!response.ok || body.result === false) throw new Error(body.msg || (response.status + ': ' + text));
    return body;
  }

  // A state list from /api/v0: { rows, total, warnings }.
  async function stateList(resource, filters, limit) {
    const q = new URLSearchParams({ limit: String(limit || LIST_LIMIT) });
    for (const [k, v, p] of filters || []) { q.append('filter_keys', k); q.append('filter_predicates', p || '='); q.append('filter_values', v); }
    const body = await getJson('/api/v0/' + resource + '?' + q);
    const r = body.data.result;
    return { rows: r.result, total: r.total, warnings: r.warnings || [] };
  }

  function warnings(list) {
    return (list || []).map(w => h('p', { class: 'warning' }, '⚠ ' + w));
  }

  // ---- Live updates ------------------------------------------------------------------------------------------------

  const live = document.getElementById('live');
  function setLive(state, text) { live.dataset.state = state; live.textContent = text; }

  function connect() {
    const events = new EventSource('/api/events');
    events.addEventListener('snapshot', (e) => {
      snapshot = JSON.parse(e.data);
      if (snapshot.error) setLive('down', 'cluster unreachable');
      else setLive('live', 'live · ' + new Date(snapshot.time_ms).toLocaleTimeString());
      if (snapshot.error) notify('The dashboard cannot read the cluster: ' + snapshot.error, 'error');
      if (page) page.update(snapshot);
    });
    events.addEventListener('error', () => setLive('connecting', 'reconnecting…')); // EventSource retries by itself
  }

  // Flags a view older than a few seconds (the head stopped sending).
  setInterval(() => {
    if (snapshot && live.dataset.state === 'live' && Date.now() - snapshot.time_ms > 5000) setLive('stale', 'no update for ' + since(snapshot.time_ms));
  }, 1000);

  // A page whose rows come from an HTTP list: refetched when its part of the snapshot changes, or every 10 s,
  // never two fetches at once.
  function listPage(key, title, fingerprint, load, toolbar) {
    const body = h('div', { class: 'page-body' });
    const status = h('p', { class: 'note' });
    let last = null, busy = false, again = false, ticks = 0, disposed = false;
    async function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const content = await load();
        if (!disposed) { body.replaceChildren(...[content].flat()); status.textContent = ''; }
      } catch (e) {
        if (!disposed) status.textContent = 'Could not load: ' + e.message;
      } finally {
        busy = false;
        if (again && !disposed) { again = false; refresh(); }
      }
    }
    main.replaceChildren(h('h1', {}, title), toolbar || '', status, body);
    refresh();
    return {
      key, refresh,
      update(s) {
        const f = fingerprint(s);
        if (f !== last || ++ticks >= 10) { last = f; ticks = 0; refresh(); }
      },
      dispose() { disposed = true; },
    };
  }

  // ---- Pages -------------------------------------------------------------------------------------------------------

  function usageCard(label, usage, fmt) {
    if (!usage || !usage.total) return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, 'none'));
    const share = Math.min(1, usage.used / usage.total);
    return h('div', { class: 'card', 'data-card': label },
      h('div', { class: 'label' }, label),
      h('div', { class: 'value' }, fmt(usage.used), h('span', { class: 'muted' }, ' / ' + fmt(usage.total))),
      h('div', { class: 'sub' }, Math.round(share * 100) + '% used'),
      h('div', { class: 'bar' + (share > 0.9 ? ' high' : '') }, h('span', { style: null, 'data-share': share })));
  }

  // Bars get their width from script (the page's policy allows no inline style attributes in markup).
  function sizeBars(root) {
    for (const span of root.querySelectorAll('.bar > span[data-share]')) span.style.width = (Number(span.dataset.share) * 100) + '%';
  }

  const countBadges = (counts, order) => {
    const keys = Object.keys(counts || {}).sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return keys.length ? h('div', { class: 'badges' }, keys.map(k => h('span', {}, badge(k), ' ', counts[k]))) : h('span', { class: 'muted' }, 'none');
  };

  function nodeRows(nodes, full) {
    return nodes.map(n => {
      const r = n.resources || {};
      const amount = (name) => r[name] ? fmtAmount(name, r[name].used) + ' / ' + fmtAmount(name, r[name].total) : '—';
      const rayletLog = n.is_head_node ? 'raylet.log' : 'raylet-' + n.node_id.slice(0, 8) + '.log';
      return h('tr', { 'data-node': n.node_id },
        td(h('span', {}, shortId(n.node_id), n.is_head_node ? h('span', { class: 'badge' }, 'head') : '')),
        td(n.node_ip), td(badge(n.state)),
        td(amount('CPU'), 'num'), td(amount('GPU'), 'num'), td(amount('memory'), 'num'),
        td(n.object_store ? fmtBytes(n.object_store.used) + ' / ' + fmtBytes(n.object_store.total) : '—', 'num'),
        full ? td(n.object_store_objects ?? '—', 'num') : null,
        full ? td(Object.entries(r).filter(([k]) => !['CPU', 'GPU', 'memory', 'object_store_memory'].includes(k))
          .map(([k, v]) => k + ': ' + fmtAmount(k, v.used) + '/' + fmtAmount(k, v.total)).join(', ') || '—', 'wrap') : null,
        full ? td(n.state_message || '', 'wrap') : null,
        full ? td(hashLink(['logs', rayletLog], 'raylet log')) : null);
    });
  }

  const nodeColumns = (full) => ['Node', 'IP', 'State', 'CPU', 'GPU', 'Memory', 'Object store']
    .concat(full ? ['Objects', 'Other resources', 'Message', 'Logs'] : []);

  function jobRows(jobs, withActions, onChange) {
    return jobs.map(j => h('tr', { 'data-job': j.submission_id },
      td(hashLink(['jobs', j.submission_id], j.submission_id)),
      td(badge(j.status)),
      td(h('code', {}, j.entrypoint), 'wrap'),
      td(fmtTime(j.start_time)), td(j.end_time ? fmtTime(j.end_time) : '—'),
      td(since(j.start_time, j.end_time), 'num'),
      td(j.driver_exit_code ?? '—', 'num'),
      td(j.message || '', 'wrap'),
      withActions ? td(jobActions(j, onChange)) : null));
  }

  const jobColumns = (withActions) => ['Submission', 'Status', 'Entrypoint', 'Started', 'Ended', 'Duration', 'Exit code', 'Message']
    .concat(withActions ? ['Actions'] : []);

  const terminal = (status) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(String(status).toUpperCase());

  function jobActions(j, onChange) {
    const id = encodeURIComponent(j.submission_id);
    if (!terminal(j.status)) {
      return h('button', { class: 'action danger', type: 'button', 'data-action': 'stop', onclick: async (e) => {
        e.target.disabled = true;
        if (await act('POST', '/api/jobs/' + id + '/stop', 'Stop job ' + j.submission_id)) onChange();
        e.target.disabled = false;
      } }, 'Stop');
    }
    let armed = false;
    return h('button', { class: 'action', type: 'button', 'data-action': 'delete', onclick: async (e) => {
      if (!armed) { armed = true; e.target.textContent = 'Click again to delete'; return; }
      e.target.disabled = true;
      if (await act('DELETE', '/api/jobs/' + id, 'Delete job ' + j.submission_id)) onChange();
      e.target.disabled = false;
    } }, 'Delete');
  }

  // A page drawn from the snapshot alone, redrawn only when what it shows changed (or every 5 s, for the durations of
  // running jobs), so that text a person is selecting is not replaced every second.
  function snapshotPage(key, title, draw) {
    const root = h('div');
    main.replaceChildren(h('h1', {}, title), root);
    let last = null, ticks = 0;
    const update = (s) => {
      if (!s) { root.replaceChildren(h('p', { class: 'muted' }, 'Waiting for the first update…')); return; }
      const f = JSON.stringify(Object.assign({}, s, { time_ms: 0, event_clients: 0 }));
      if (f === last && ++ticks < 5) return;
      last = f;
      ticks = 0;
      draw(root, s);
      sizeBars(root);
    };
    update(snapshot);
    return { key, update, dispose() {} };
  }

  function overviewPage() {
    return snapshotPage('overview', 'Cluster overview', (root, s) => {
      const res = s.resources || {};
      root.replaceChildren(
        h('div', { class: 'cards' },
          h('div', { class: 'card', 'data-card': 'Nodes' }, h('div', { class: 'label' }, 'Nodes'),
            h('div', { class: 'value' }, String(s.nodes_alive), h('span', { class: 'muted' }, ' alive')),
            h('div', { class: 'sub' }, s.nodes_dead + ' dead')),
          usageCard('CPU', res.CPU, v => fmtAmount('CPU', v)),
          usageCard('GPU', res.GPU, v => fmtAmount('GPU', v)),
          usageCard('Memory', res.memory, fmtBytes),
          usageCard('Object store', s.object_store, fmtBytes)),
        h('div', { class: 'cards' },
          h('div', { class: 'card' }, h('div', { class: 'label' }, 'Tasks'), countBadges(s.tasks_by_state, TASK_STATES)),
          h('div', { class: 'card' }, h('div', { class: 'label' }, 'Actors'), countBadges(s.actors_by_state, ACTOR_STATES)),
          h('div', { class: 'card' }, h('div', { class: 'label' }, 'Placement groups'), countBadges(s.placement_groups_by_state, []))),
        h('h2', {}, 'Nodes'),
        table('nodes', nodeColumns(false), nodeRows(s.nodes, false), 'No nodes.'),
        h('h2', {}, 'Recent jobs'),
        table('jobs', jobColumns(false), jobRows(s.jobs, false), 'No jobs were submitted yet (raysharp job submit).'));
    });
  }

  function nodesPage() {
    return snapshotPage('nodes', 'Nodes', (root, s) => root.replaceChildren(
      table('nodes', nodeColumns(true), nodeRows(s.nodes, true), 'No nodes.'),
      h('p', { class: 'note' }, 'Used is what running work holds; object store figures are refreshed every 5 s.')));
  }

  function stateSelect(states, onchange) {
    return h('select', { 'aria-label': 'state', onchange }, h('option', { value: '' }, 'any state'), states.map(s => h('option', { value: s }, s)));
  }

  function actorsPage() {
    let state = '';
    const toolbar = h('div', { class: 'toolbar' }, 'State', stateSelect(ACTOR_STATES, (e) => { state = e.target.value; p.refresh(); }));
    const p = listPage('actors', 'Actors', s => JSON.stringify([s.actors_by_state, s.tasks_by_state]), async () => {
      const [actors, creations] = await Promise.all([
        stateList('actors', state ? [['state', state]] : []),
        stateList('tasks', [['type', 'ACTOR_CREATION_TASK']])]);
      // The process of an actor is that of its latest creation attempt (a restart is a new attempt).
      const latest = {};
      for (const t of creations.rows) if (t.actor_id && (!latest[t.actor_id] || t.attempt_number >= latest[t.actor_id].attempt_number)) latest[t.actor_id] = t;
      const rows = actors.rows.map(a => {
        const t = latest[a.actor_id];
        return h('tr', { 'data-actor': a.actor_id },
          td(shortId(a.actor_id)), td(a.class_name, 'wrap'), td(a.name || h('span', { class: 'muted' }, '—'), 'wrap'), td(badge(a.state)),
          td(a.num_restarts, 'num'), td(shortId(a.node_id)),
          td(t && t.worker_pid ? (t.worker_id ? hashLink(['logs', 'worker-' + t.worker_id + '.log'], String(t.worker_pid), 'the worker\'s log') : t.worker_pid) : '—', 'num'),
          td(shortId(a.job_id)), td(a.ray_namespace), td(a.is_detached ? 'yes' : ''), td(a.death_cause || '', 'err'));
      });
      return [table('actors', ['Actor', 'Class', 'Name', 'State', 'Restarts', 'Node', 'PID', 'Job', 'Namespace', 'Detached', 'Death cause'], rows, 'No actors.'),
        h('p', { class: 'note' }, actors.rows.length + ' of ' + actors.total + ' actors.'), warnings(actors.warnings)];
    }, toolbar);
    return p;
  }

  function tasksPage() {
    let state = '', name = '';
    const nameInput = h('input', { type: 'search', placeholder: 'name (exact)', 'aria-label': 'task name' });
    const toolbar = h('div', { class: 'toolbar' }, 'State', stateSelect(TASK_STATES, (e) => { state = e.target.value; p.refresh(); }),
      h('form', { onsubmit: (e) => { e.preventDefault(); name = nameInput.value.trim(); p.refresh(); } }, nameInput, ' ', h('button', { class: 'action', type: 'submit' }, 'Filter')));
    const p = listPage('tasks', 'Tasks', s => JSON.stringify(s.tasks_by_state), async () => {
      const filters = [];
      if (state) filters.push(['state', state]);
      if (name) filters.push(['name', name]);
      const list = await stateList('tasks', filters);
      const rows = list.rows.slice().sort((a, b) => (b.creation_time_ms || 0) - (a.creation_time_ms || 0)).map(t => h('tr', { 'data-task': t.task_id },
        td(shortId(t.task_id)), td(t.attempt_number, 'num'), td(t.name), td(badge(t.state)), td(t.type),
        td(shortId(t.node_id)),
        td(t.worker_pid ? (t.worker_id ? hashLink(['logs', 'worker-' + t.worker_id + '.log'], String(t.worker_pid), 'the worker\'s log') : t.worker_pid) : '—', 'num'),
        td(fmtTime(t.creation_time_ms)),
        td(t.start_time_ms ? since(t.start_time_ms, t.end_time_ms) : '—', 'num'),
        td(t.error_type ? [h('strong', {}, t.error_type), t.error_message ? ': ' + t.error_message : ''] : '', 'err')));
      return [table('tasks', ['Task', 'Attempt', 'Name', 'State', 'Type', 'Node', 'Worker PID', 'Submitted', 'Duration', 'Error'], rows, 'No tasks match.'),
        h('p', { class: 'note' }, list.rows.length + ' of ' + list.total + ' task attempts shown, newest first (the store answers its oldest first: filter to narrow).'),
        warnings(list.warnings)];
    }, toolbar);
    return p;
  }

  function jobsPage() {
    const p = listPage('jobs', 'Jobs', s => JSON.stringify(s.jobs), async () => {
      const [submitted, drivers] = await Promise.all([getJson('/api/jobs/'), stateList('jobs')]);
      submitted.sort((a, b) => (b.start_time || 0) - (a.start_time || 0));
      return [
        table('jobs', jobColumns(true), jobRows(submitted, true, () => p.refresh()), 'No jobs were submitted yet (raysharp job submit).'),
        h('h2', {}, 'Drivers'),
        h('p', { class: 'note' }, 'Every driver connected to the cluster, submitted or not (the GCS\'s job table).'),
        table('drivers', ['Job', 'Status', 'Namespace', 'Driver PID', 'Node', 'Started', 'Ended'], drivers.rows.slice().reverse().map(j => h('tr', {},
          td(h('span', { class: 'id' }, j.job_id)), td(badge(j.status)), td(j.namespace), td(j.driver_pid, 'num'), td(shortId(j.driver_node_id)),
          td(fmtTime(j.start_time)), td(fmtTime(j.end_time)))), 'No drivers.')];
    });
    return p;
  }

  function jobPage(id) {
    const facts = h('div');
    const log = h('pre', { class: 'log', 'data-log': 'job' });
    const follow = h('input', { type: 'checkbox', checked: true });
    const abort = new AbortController();
    main.replaceChildren(h('p', {}, hashLink(['jobs'], '← all jobs')), h('h1', {}, 'Job ', id), facts,
      h('h2', {}, 'Log ', h('label', { class: 'note' }, follow, ' scroll with new lines')), log);
    let last = null;
    async function loadFacts() {
      try {
        const j = await getJson('/api/jobs/' + encodeURIComponent(id));
        last = j;
        const env = j.runtime_env || {};
        facts.replaceChildren(h('dl', { class: 'facts' },
          h('dt', {}, 'Status'), h('dd', { 'data-field': 'status' }, badge(j.status), ' ', jobActions(j, loadFacts)),
          h('dt', {}, 'Entrypoint'), h('dd', {}, h('code', {}, j.entrypoint)),
          h('dt', {}, 'Message'), h('dd', {}, j.message || '—'),
          h('dt', {}, 'Started'), h('dd', {}, fmtTime(j.start_time)),
          h('dt', {}, 'Ended'), h('dd', {}, j.end_time ? fmtTime(j.end_time) + ' (' + since(j.start_time, j.end_time) + ')' : '—'),
          h('dt', {}, 'Exit code'), h('dd', {}, j.driver_exit_code ?? '—'),
          h('dt', {}, 'Driver job'), h('dd', {}, j.job_id || '—'),
          h('dt', {}, 'Working dir'), h('dd', {}, env.working_dir || '—'),
          h('dt', {}, 'Metadata'), h('dd', {}, Object.entries(j.metadata || {}).map(([k, v]) => k + '=' + v).join(', ') || '—')));
      } catch (e) {
        facts.replaceChildren(h('p', { class: 'warning' }, 'Could not load the job: ' + e.message));
      }
    }
    // The log from the start, then each line as the job writes it, until the job has ended.
    async function tail() {
      try {
        const response = await fetch('/api/jobs/' + encodeURIComponent(id) + '/logs/tail', { signal: abort.signal });
        if (!response.ok) { log.textContent = await response.text(); return; }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          log.append(decoder.decode(value, { stream: true }));
          if (log.textContent.length > 2_000_000) log.textContent = log.textContent.slice(-1_000_000);
          if (follow.checked) log.scrollTop = log.scrollHeight;
        }
        log.dataset.complete = 'true';
      } catch (e) {
        if (!abort.signal.aborted) log.append('\n[log stream ended: ' + e.message + ']');
      }
    }
    loadFacts();
    tail();
    return {
      key: 'jobs',
      update(s) {
        const mine = (s.jobs || []).find(j => j.submission_id === id);
        if (!last || !mine || mine.status !== last.status || mine.end_time !== last.end_time) loadFacts();
      },
      dispose() { abort.abort(); },
    };
  }

  function placementGroupsPage() {
    return listPage('placement-groups', 'Placement groups', s => JSON.stringify(s.placement_groups_by_state), async () => {
      const list = await stateList('placement_groups');
      const rows = list.rows.map(g => h('tr', { 'data-group': g.placement_group_id },
        td(shortId(g.placement_group_id)), td(g.name || '—'), td(badge(g.state)), td(g.strategy), td(g.is_detached ? 'yes' : ''),
        td(shortId(g.creator_job_id)),
        td((g.bundles || []).map(b => h('div', {}, '#' + b.bundle_index + ' ',
          Object.entries(b.unit_resources || {}).map(([k, v]) => k + ': ' + fmtAmount(k, v)).join(', '), ' on ', shortId(b.node_id))))));
      return [table('placement-groups', ['Group', 'Name', 'State', 'Strategy', 'Detached', 'Creator job', 'Bundles'], rows, 'No placement groups.'),
        h('p', { class: 'note' }, list.rows.length + ' of ' + list.total + ' placement groups.')];
    });
  }

  function objectsPage() {
    return listPage('objects', 'Objects', s => JSON.stringify([s.tasks_by_state, s.object_store]), async () => {
      const list = await stateList('objects');
      const rows = list.rows.map(o => h('tr', {},
        td(shortId(o.object_id)), td(fmtBytes(o.object_size), 'num'), td(o.reference_type), td(o.task_status ? badge(o.task_status) : '—'),
        td(o.type), td(o.pid, 'num'), td(shortId(o.node_id)), td(o.is_owner ? 'owner' : 'borrower'),
        td(o.in_object_store ? 'yes' : ''), td(o.spilled ? 'yes' : '')));
      return [table('objects', ['Object', 'Size', 'Reference', 'Creating task', 'Held by', 'PID', 'Node', 'Role', 'In store', 'Spilled'], rows, 'No object references.'),
        h('p', { class: 'note' }, list.rows.length + ' of ' + list.total + ' references (one row per process holding one).'), warnings(list.warnings)];
    });
  }

  function logsPage() {
    let filter = '';
    const input = h('input', { type: 'search', placeholder: 'file name contains…', 'aria-label': 'filter log files',
      oninput: (e) => { filter = e.target.value.trim().toLowerCase(); p.refresh(); } });
    const p = listPage('logs', 'Logs', () => '', async () => {
      const body = await getJson('/api/v0/logs');
      const r = body.data.result;
      const rows = r.files.filter(f => !filter || f.name.toLowerCase().includes(filter)).map(f => h('tr', {},
        td(hashLink(['logs', f.name], f.name)), td(f.kind), td(f.worker_id ? shortId(f.worker_id) : ''),
        td(fmtBytes(f.size_bytes), 'num'), td(fmtTime(f.modified_ms))));
      return [h('p', { class: 'note' }, 'Files of the head\'s session log directory ', h('code', {}, r.log_dir), ' (every node of a single-host cluster logs here).'),
        table('logs', ['File', 'Kind', 'Worker', 'Size', 'Modified'], rows, 'No log files.')];
    }, h('div', { class: 'toolbar' }, input));
    return p;
  }

  function logFilePage(name) {
    const pre = h('pre', { class: 'log', 'data-log': 'file' });
    const status = h('span', { class: 'note' });
    const lines = h('select', { 'aria-label': 'lines' }, [200, 1000, 5000, 20000].map(n => h('option', { value: n, selected: n === 1000 }, 'last ' + n + ' lines')));
    const follow = h('input', { type: 'checkbox', checked: true });
    main.replaceChildren(h('p', {}, hashLink(['logs'], '← all log files')), h('h1', {}, name),
      h('div', { class: 'toolbar' }, lines, h('label', {}, follow, ' follow (reload every 2 s)'), status), pre);
    let busy = false;
    async function load() {
      if (busy) return;
      busy = true;
      try {
        const response = await fetch('/api/v0/logs/file?' + new URLSearchParams({ filename: name, lines: lines.value }));
        const text = await response.text();
        if (!response.ok) {
          let msg = text;
          try { msg = JSON.parse(text).msg; } catch { /* plain text */ }
          status.textContent = 'Could not read it: ' + msg;
          return;
        }
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
        pre.textContent = text;
        if (atEnd || follow.checked) pre.scrollTop = pre.scrollHeight;
        status.textContent = 'read ' + new Date().toLocaleTimeString();
      } finally {
        busy = false;
      }
    }
    lines.addEventListener('change', load);
    const timer = setInterval(() => { if (follow.checked) load(); }, 2000);
    load();
    return { key: 'logs', update() {}, dispose() { clearInterval(timer); } };
  }

  // ---- Routing -----------------------------------------------------------------------------------------------------

  function route() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    if (page) page.dispose();
    banner.hidden = true;
    switch (parts[0] || '') {
      case 'nodes': page = nodesPage(); break;
      case 'actors': page = actorsPage(); break;
      case 'tasks': page = tasksPage(); break;
      case 'jobs': page = parts[1] ? jobPage(parts[1]) : jobsPage(); break;
      case 'placement-groups': page = placementGroupsPage(); break;
      case 'objects': page = objectsPage(); break;
      case 'logs': page = parts[1] ? logFilePage(parts[1]) : logsPage(); break;
      default: page = overviewPage();
    }
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === (page.key || 'overview'));
    document.title = 'RaySharp · ' + (document.querySelector('#nav a.active')?.textContent || 'dashboard');
  }

  window.addEventListener('hashchange', route);
  route();
  connect();
})();
