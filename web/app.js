// app.js — cloison's web interface: the REST API of cloisond (docs/api.md) with the token the user
// signed in with, kept in this tab's sessionStorage and sent as `Authorization: Bearer` (never a
// cookie: no other site can make the browser act for its user). Consoles are WebSockets to
// /v1/instances/NAME/console (xterm.js 5, pinned by tools/web/fetch.sh) and /vnc (noVNC, Debian's),
// the token as a subprotocol.
// Every value from the daemon reaches the page through textContent, never as HTML.
import RFB from './vendor/novnc/core/rfb.js';

const $ = (sel) => document.querySelector(sel);
let token = sessionStorage.getItem('cloison-token');
let selected = null;          // the instance whose detail is open
let history = {};             // name -> [{t, cpu_ns, memory_bytes, disk, net}]
let term = null, termSocket = null, rfb = null;

// ---- the API ----

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const opts = { method, headers: { 'Authorization': 'Bearer ' + token } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json() : await res.text();
  if (res.status === 401) { signOut('Your token was refused (revoked?): sign in again.'); }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText);
  return data;
}

function say(text, isError) {
  const m = $('#message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

// Runs an action; an answer naming an operation is followed until it ends.
async function act(label, method, path, body) {
  try {
    say(label + '…');
    const ans = await api(method, path, body);
    if (ans && ans.operation) await follow(ans.operation.id, label);
    say(label + ': done');
  } catch (e) {
    say(label + ': ' + e.message, true);
  }
  refresh();
}

async function follow(id, label) {
  for (;;) {
    const op = await api('GET', `/v1/operations/${id}?wait=2`);
    if (op.status === 'failure') throw new Error(op.error || 'failed');
    if (op.status !== 'running') return op;
    if (op.progress && op.progress.percent !== undefined) say(`${label}: ${op.progress.percent}%`);
  }
}

// ---- signing in ----

function signOut(why) {
  token = null;
  sessionStorage.removeItem('cloison-token');
  closeConsole();
  closeScreen();
  $('#app').classList.add('hidden');
  $('#logout').classList.add('hidden');
  $('#login').classList.remove('hidden');
  $('#login-error').textContent = why || '';
  $('#host').textContent = '';
}

async function signIn(candidate) {
  token = candidate;
  try {
    const info = await api('GET', '/v1');
    sessionStorage.setItem('cloison-token', token);
    $('#host').textContent = `${info.server} ${info.version} — ${info.instances} instance(s)`;
    $('#login').classList.add('hidden');
    $('#app').classList.remove('hidden');
    $('#logout').classList.remove('hidden');
    refresh();
  } catch (e) {
    signOut(e.status === 401 ? 'That token is not valid.' : e.message);
  }
}

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  signIn($('#token').value.trim());
  $('#token').value = '';
});
$('#logout').addEventListener('click', () => signOut(''));

// ---- tabs ----

for (const b of document.querySelectorAll('nav .tab')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll('nav .tab')) o.classList.toggle('active', o === b);
    for (const p of document.querySelectorAll('.tabpage')) p.classList.toggle('hidden', p.id !== 'tab-' + b.dataset.tab);
    refresh();
  });
}

// ---- tables ----

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text === undefined || text === null ? '-' : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function button(parent, label, cls, onclick) {
  const b = document.createElement('button');
  b.textContent = label;
  b.className = cls;
  b.addEventListener('click', onclick);
  parent.appendChild(b);
  return b;
}

function size(bytes) {
  if (bytes === undefined || bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return (i ? bytes.toFixed(1) : bytes) + ' ' + units[i];
}

function fill(tbody, rows, render) {
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement('tr');
    render(tr, r);
    tbody.appendChild(tr);
  }
}

// ---- instances ----

async function renderInstances() {
  const list = await api('GET', '/v1/instances');
  const tbody = $('#instances tbody');
  const stats = {};
  await Promise.all(list.filter((i) => i.status && ['running', 'paused'].includes(i.status.state)).map(async (i) => {
    try { stats[i.name] = await api('GET', `/v1/instances/${encodeURIComponent(i.name)}/stats`); } catch (e) { /* stopped meanwhile */ }
  }));
  const now = performance.now() / 1000;
  fill(tbody, list, (tr, inst) => {
    const name = inst.name, state = inst.status ? inst.status.state : 'unknown';
    tr.dataset.name = name;
    const link = cell(tr, name, 'name');
    link.addEventListener('click', () => openDetail(name));
    cell(tr, inst.type);
    cell(tr, state, 'state');
    const s = stats[name];
    let cpu = '-';
    if (s) {
      const h = (history[name] = history[name] || []);
      h.push({ t: now, cpu_ns: s.cpu_ns, memory_bytes: s.memory_bytes,
        disk: (s.disk_read_bytes || 0) + (s.disk_write_bytes || 0), net: (s.net_rx_bytes || 0) + (s.net_tx_bytes || 0) });
      if (h.length > 120) h.shift();
      if (h.length > 1) {
        const a = h[h.length - 2], b = h[h.length - 1];
        cpu = (100 * (b.cpu_ns - a.cpu_ns) / 1e9 / Math.max(b.t - a.t, 0.001)).toFixed(0) + ' %';
      }
    }
    cell(tr, cpu, 'cpu');
    cell(tr, s ? size(s.memory_bytes) : '-', 'memory');
    const td = cell(tr, '');
    const base = `/v1/instances/${encodeURIComponent(name)}`;
    if (state === 'stopped' || state === 'created' || state === 'failed')
      button(td, 'Start', 'act-start', () => act(`start ${name}`, 'POST', base + '/start'));
    if (state === 'running') {
      button(td, 'Stop', 'act-stop', () => act(`stop ${name}`, 'POST', base + '/stop'));
      button(td, 'Pause', 'act-pause', () => act(`pause ${name}`, 'POST', base + '/pause'));
    }
    if (state === 'paused') button(td, 'Resume', 'act-resume', () => act(`resume ${name}`, 'POST', base + '/resume'));
    if (state === 'running' || state === 'paused') {
      button(td, 'Console', 'act-console', () => openConsole(name));
      if (inst.type === 'vm' && inst.vm && inst.vm.display && inst.vm.display !== 'off')
        button(td, 'Screen', 'act-screen', () => openScreen(name));
    }
    button(td, 'Delete', 'act-delete', () => {
      if (confirm(`Delete ${name}?`)) act(`delete ${name}`, 'DELETE', base + (state === 'stopped' ? '' : '?force=1'));
    });
  });
  if (selected) drawGraphs(selected);
}

$('#create-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const def = { name: $('#create-name').value.trim(), type: $('#create-type').value };
  if (def.type === 'vm') {
    def.vm = {};
    if ($('#create-memory').value) def.vm.memory = $('#create-memory').value.trim();
    if ($('#create-cpus').value) def.vm.cpus = parseInt($('#create-cpus').value, 10);
    if ($('#create-display').checked) def.vm.display = 'on';
  } else {
    def.container = { rootfs: $('#create-rootfs').value.trim() };
  }
  act(`create ${def.name}`, 'POST', '/v1/instances', def);
});

// ---- one instance: graphs, snapshots, clone, migrate ----

function openDetail(name) {
  selected = name;
  $('#detail').classList.remove('hidden');
  $('#detail-name').textContent = name;
  drawGraphs(name);
  renderSnapshots(name);
}

async function renderSnapshots(name) {
  const ul = $('#snapshots');
  ul.replaceChildren();
  try {
    const snaps = await api('GET', `/v1/instances/${encodeURIComponent(name)}/snapshots`);
    for (const s of snaps) {
      const li = document.createElement('li');
      li.textContent = `${s.name} (${new Date(s.created_at * 1000).toLocaleString()}) `;
      button(li, 'Restore', 'act-restore', () => act(`restore ${name} to ${s.name}`, 'POST',
        `/v1/instances/${encodeURIComponent(name)}/restore`, { snapshot: s.name }));
      button(li, 'Remove', 'act-snapshot-rm', () => act(`remove snapshot ${s.name}`, 'DELETE',
        `/v1/instances/${encodeURIComponent(name)}/snapshots/${encodeURIComponent(s.name)}`));
      ul.appendChild(li);
    }
  } catch (e) { /* a container may have none */ }
}

$('#snapshot-take').addEventListener('click', async () => {
  const snap = $('#snapshot-name').value.trim();
  await act(`snapshot ${selected}`, 'POST', `/v1/instances/${encodeURIComponent(selected)}/snapshots`, { name: snap });
  renderSnapshots(selected);
});
$('#clone-make').addEventListener('click', () => act(`clone ${selected}`, 'POST',
  `/v1/instances/${encodeURIComponent(selected)}/clone`,
  { name: $('#clone-name').value.trim(), snapshot: $('#snapshot-name').value.trim(), start: true }));
$('#migrate-go').addEventListener('click', () => act(`migrate ${selected}`, 'POST',
  `/v1/instances/${encodeURIComponent(selected)}/migrate`, { to: $('#migrate-to').value.trim() }));

// Rates between successive samples, drawn as a line scaled to its own maximum.
function drawGraphs(name) {
  const h = history[name] || [];
  const series = {
    'graph-cpu': (a, b) => 100 * (b.cpu_ns - a.cpu_ns) / 1e9 / (b.t - a.t),
    'graph-memory': (a, b) => b.memory_bytes / 1048576,
    'graph-disk': (a, b) => (b.disk - a.disk) / 1024 / (b.t - a.t),
    'graph-net': (a, b) => (b.net - a.net) / 1024 / (b.t - a.t),
  };
  for (const [id, f] of Object.entries(series)) {
    const c = document.getElementById(id), g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    const v = [];
    for (let i = 1; i < h.length; i++) v.push(Math.max(0, f(h[i - 1], h[i])));
    const max = Math.max(1, ...v);
    g.strokeStyle = '#2a6fdb';
    g.beginPath();
    v.forEach((y, i) => {
      const x = c.width * i / Math.max(1, v.length - 1), py = c.height - 4 - (c.height - 8) * y / max;
      if (i) g.lineTo(x, py); else g.moveTo(x, py);
    });
    g.stroke();
    g.fillStyle = '#333';
    g.fillText(v.length ? v[v.length - 1].toFixed(1) + ' (max ' + max.toFixed(1) + ')' : 'no data yet', 4, 12);
  }
}

// ---- consoles ----

function wsUrl(name, what) {
  return `wss://${location.host}/v1/instances/${encodeURIComponent(name)}/${what}`;
}

function openConsole(name) {
  closeConsole();
  $('#console-panel').classList.remove('hidden');
  $('#console-name').textContent = name;
  term = new Terminal({ cols: 80, rows: 30, fontSize: 13 });
  term.open($('#terminal'));
  const ws = new WebSocket(wsUrl(name, 'console'), ['binary', 'cloison.bearer.' + token]);
  ws.binaryType = 'arraybuffer';
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  ws.onmessage = (ev) => term.write(decoder.decode(new Uint8Array(ev.data), { stream: true }));
  ws.onclose = () => { if (term) term.write('\r\n[console closed]\r\n'); };
  term.onData((data) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data)); });
  termSocket = ws;
  term.focus();
}

function closeConsole() {
  if (termSocket) termSocket.close();
  if (term) term.dispose();
  term = termSocket = null;
  $('#console-panel').classList.add('hidden');
}
$('#console-close').addEventListener('click', closeConsole);

function openScreen(name) {
  closeScreen();
  $('#screen-panel').classList.remove('hidden');
  $('#screen-name').textContent = name;
  $('#screen-state').textContent = 'connecting';
  rfb = new RFB($('#screen'), wsUrl(name, 'vnc'), { wsProtocols: ['binary', 'cloison.bearer.' + token] });
  rfb.scaleViewport = true;
  rfb.addEventListener('connect', () => { $('#screen-state').textContent = 'connected'; });
  rfb.addEventListener('disconnect', () => { $('#screen-state').textContent = 'disconnected'; });
}

function closeScreen() {
  if (rfb) rfb.disconnect();
  rfb = null;
  $('#screen').replaceChildren();
  $('#screen-panel').classList.add('hidden');
}
$('#screen-close').addEventListener('click', closeScreen);

// ---- storage, networks, operations ----

async function renderStorage() {
  const pools = await api('GET', '/v1/storage-pools');
  fill($('#pools tbody'), pools, (tr, p) => {
    cell(tr, p.name); cell(tr, p.path); cell(tr, p.volumes); cell(tr, size(p.capacity)); cell(tr, size(p.available));
  });
  const vols = [];
  for (const p of pools) vols.push(...await api('GET', `/v1/storage-pools/${encodeURIComponent(p.name)}/volumes`));
  fill($('#volumes tbody'), vols, (tr, v) => {
    cell(tr, `${v.pool}/${v.name}`); cell(tr, v.format); cell(tr, size(v['virtual-size']));
    cell(tr, size(v['actual-size'])); cell(tr, (v.used_by || []).join(', '));
    button(cell(tr, ''), 'Remove', 'act-volume-rm', () => act(`remove ${v.pool}/${v.name}`, 'DELETE',
      `/v1/storage-pools/${encodeURIComponent(v.pool)}/volumes/${encodeURIComponent(v.name)}`));
  });
}

$('#volume-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const [pool, name] = $('#volume-name').value.trim().split('/');
  act(`create volume ${pool}/${name}`, 'POST', `/v1/storage-pools/${encodeURIComponent(pool)}/volumes`,
    { name, size: $('#volume-size').value.trim() });
});

async function renderNetworks() {
  const nets = await api('GET', '/v1/networks');
  fill($('#networks tbody'), nets, (tr, n) => {
    cell(tr, n.name); cell(tr, n.type); cell(tr, n.subnet); cell(tr, (n.used_by || []).join(', '));
    button(cell(tr, ''), 'Remove', 'act-network-rm', () => act(`remove network ${n.name}`, 'DELETE',
      `/v1/networks/${encodeURIComponent(n.name)}`));
  });
}

$('#network-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const def = { name: $('#network-name').value.trim(), type: $('#network-type').value };
  if ($('#network-subnet').value) def.subnet = $('#network-subnet').value.trim();
  act(`create network ${def.name}`, 'POST', '/v1/networks', def);
});

async function renderOperations() {
  const ops = await api('GET', '/v1/operations');
  fill($('#operations tbody'), ops, (tr, op) => {
    cell(tr, op.id); cell(tr, op.kind); cell(tr, op.instance || op.resource); cell(tr, op.error ? `${op.status}: ${op.error}` : op.status);
    const td = cell(tr, '');
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = op.progress && op.progress.percent !== undefined ? op.progress.percent : (op.status === 'running' ? 0 : 100);
    td.replaceChildren(bar);
  });
}

// ---- refreshing ----

let refreshing = false;
async function refresh() {
  if (!token || refreshing) return;
  refreshing = true;
  try {
    const tab = document.querySelector('nav .tab.active').dataset.tab;
    if (tab === 'instances') await renderInstances();
    if (tab === 'storage') await renderStorage();
    if (tab === 'networks') await renderNetworks();
    if (tab === 'operations') await renderOperations();
  } catch (e) {
    if (e.status !== 401) say(e.message, true);
  } finally {
    refreshing = false;
  }
}
setInterval(refresh, 2000);

if (token) signIn(token); else signOut('');
