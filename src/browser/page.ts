/**
 * The audit browser's single page: plain HTML, CSS and JavaScript, no framework, nothing loaded from
 * elsewhere: the one library, uPlot (the overview's chart), is served by the proxy itself (assets.ts). The
 * HTML is static (only the CSP nonce and asset addresses are inserted); every value that comes from an audit
 * event (principals, resource names, client ids: all chosen by clients) reaches the DOM through textContent or
 * dataset, never through innerHTML, so it is shown as text and never interpreted.
 */
import { OVERVIEW_CSS, OVERVIEW_HTML, OVERVIEW_JS } from './overview-page.js';

const CSS = `
:root { --bg:#f6f7f9; --fg:#1d2330; --muted:#5d6677; --line:#d9dde5; --accent:#1f5fbf; --ok:#17803d; --bad:#b42318; --sel:#e6efff; --new:#fff6d6; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:16px; padding:10px 16px; background:#17202e; color:#fff; }
header h1 { font-size:17px; margin:0; font-weight:600; }
header #status { color:#c6cedb; font-size:12px; }
main { display:flex; gap:12px; padding:12px 16px; align-items:flex-start; }
#left { flex:1 1 auto; min-width:0; }
form#filters { display:grid; grid-template-columns:repeat(5, minmax(140px, 1fr)); gap:8px 12px; background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
form#filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
form#filters label.inline { flex-direction:row; align-items:center; gap:4px; color:var(--fg); font-size:13px; }
form#filters input, form#filters select { font:inherit; padding:4px 6px; border:1px solid var(--line); border-radius:4px; background:#fff; color:var(--fg); }
.actions { grid-column:1 / -1; display:flex; flex-wrap:wrap; gap:8px; align-items:center; }
button, a.button { font:inherit; padding:4px 12px; border:1px solid var(--line); border-radius:4px; background:#fff; color:var(--fg); cursor:pointer; text-decoration:none; }
button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
.quick button { padding:2px 8px; font-size:12px; }
.spacer { flex:1; }
#bar { display:flex; gap:16px; align-items:center; margin:10px 0 6px; font-size:13px; color:var(--muted); }
#error { color:var(--bad); font-weight:600; }
#error:empty { display:none; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef1f5; font-weight:600; position:sticky; top:0; }
td.resource, td.client { overflow-wrap:anywhere; min-width:9em; }
td.principal { overflow-wrap:break-word; }
td.status, td.method { white-space:nowrap; }
td.error { overflow-wrap:anywhere; min-width:8em; }
td.none { color:var(--muted); }
#table-wrap { overflow-x:auto; }
td.time { white-space:nowrap; font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12px; }
td.ok { color:var(--ok); font-weight:600; }
td.bad { color:var(--bad); font-weight:600; }
tbody tr { cursor:pointer; }
tbody tr:hover { background:#f2f5fa; }
tbody tr.selected { background:var(--sel); }
tbody tr.new { animation: flash 3s ease-out; }
@keyframes flash { from { background:var(--new); } to { background:transparent; } }
#empty { padding:24px; text-align:center; color:var(--muted); background:#fff; border:1px solid var(--line); border-top:0; }
aside#detail { flex:0 0 34%; max-width:560px; background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 12px; position:sticky; top:12px; max-height:calc(100vh - 24px); overflow:auto; }
aside#detail[hidden] { display:none; }
aside#detail h2 { font-size:15px; margin:0 0 6px; display:flex; gap:8px; align-items:center; }
aside#detail dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 10px; margin:0 0 8px; font-size:13px; }
aside#detail dt { color:var(--muted); }
aside#detail dd { margin:0; overflow-wrap:anywhere; }
pre#detail-json { background:#0f1722; color:#d7e0ee; padding:10px; border-radius:4px; font-size:12px; overflow:auto; white-space:pre-wrap; overflow-wrap:anywhere; }
${OVERVIEW_CSS}`;

const JS = `
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const API = '/audit/api/';
  const FIELDS = ['principal', 'method', 'resource', 'resourceType', 'client', 'outcome', 'errorCode'];
  const st = { source: 'live', shown: [], ids: new Set(), selectedId: null, es: null, matched: 0, seq: 0 };

  // Time inputs are in UTC, like the times in the table.
  function inputToIso(v) {
    if (!v) return '';
    if (/^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d$/.test(v)) v += ':00';
    return v + 'Z';
  }
  // Milliseconds only when there are some: a bucket of the overview ends at .999.
  function msToInput(ms) { const iso = new Date(ms).toISOString(); return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23); }
  function fmtTime(iso) { return typeof iso === 'string' ? iso.replace('T', ' ') : ''; }
  function limit() { const n = parseInt($('f-limit').value, 10); return n > 0 ? n : 200; }

  function filterParams() {
    const p = new URLSearchParams();
    for (const f of FIELDS) { const v = $('f-' + f).value.trim(); if (v) p.set(f, v); }
    const from = inputToIso($('f-from').value), to = inputToIso($('f-to').value);
    if (from) p.set('from', from);
    if (to) p.set('to', to);
    return p;
  }

  function showError(msg) { $('error').textContent = msg || ''; }

  async function getJson(url, init) {
    const res = await fetch(url, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, init || {}));
    const text = await res.text();
    let body;
    try { body = JSON.parse(text); } catch { body = { error: text.slice(0, 300) }; }
    if (!res.ok) throw new Error(body && body.error ? body.error : 'HTTP ' + res.status);
    return body;
  }

  function principalOf(e) { const a = e.data && e.data.authenticationInfo; return a && a.principal ? a.principal : ''; }
  function methodOf(e) { const m = e.data && e.data.methodName; return typeof m === 'string' ? m.replace(/^kafka\\./, '') : ''; }
  function resourceOf(e) {
    const d = e.data || {};
    const z = d.authorizationInfo;
    if (z && z.resourceName !== undefined) return z.resourceType + ' ' + z.resourceName;
    return d.resourceName || '';
  }
  // Lifecycle events of the proxy itself have no result: shown as a dash, neither success nor failure.
  function statusOf(e) { const r = e.data && e.data.result; return r && r.status ? r.status : '—'; }
  function errorOf(e) {
    const r = e.data && e.data.result;
    if (!r || !r.errorName || r.errorName === 'NONE') return '';
    return r.errorName + (r.errorCode !== undefined ? ' (' + r.errorCode + ')' : '');
  }
  function clientOf(e) {
    const d = e.data || {};
    const id = d.request && d.request.client_id ? d.request.client_id : '';
    const addr = d.requestMetadata && d.requestMetadata.client_address ? d.requestMetadata.client_address : '';
    return id && addr ? id + ' @ ' + addr : id || addr;
  }

  function td(tr, text, cls) {
    const c = document.createElement('td');
    c.textContent = text;
    if (cls) c.className = cls;
    tr.appendChild(c);
  }

  function makeRow(e, fresh) {
    const tr = document.createElement('tr');
    tr.dataset.id = String(e.id);
    if (fresh) tr.className = 'new';
    if (st.selectedId === e.id) tr.classList.add('selected');
    td(tr, fmtTime(e.time), 'time');
    const s = statusOf(e);
    td(tr, s, 'status ' + (s === 'SUCCESS' ? 'ok' : s === '—' ? 'none' : 'bad'));
    td(tr, errorOf(e), 'error');
    td(tr, principalOf(e), 'principal');
    td(tr, methodOf(e), 'method');
    td(tr, resourceOf(e), 'resource');
    td(tr, clientOf(e), 'client');
    tr.addEventListener('click', () => select(e));
    return tr;
  }

  function render() {
    const body = $('rows');
    body.replaceChildren(...st.shown.map((e) => makeRow(e, false)));
    $('empty').hidden = st.shown.length > 0;
    updateCount();
  }

  function updateCount() {
    const where = st.source === 'loaded' ? 'in the range loaded from the topic' : 'in the recent-events index';
    $('count').textContent = st.shown.length === st.matched
      ? st.matched + (st.matched === 1 ? ' event' : ' events') + ' ' + where
      : 'newest ' + st.shown.length + ' of ' + st.matched + ' matching events ' + where;
  }

  function select(e) {
    st.selectedId = e.id;
    for (const tr of $('rows').children) tr.classList.toggle('selected', tr.dataset.id === String(e.id));
    const d = e.data || {};
    const dl = $('detail-summary');
    const pairs = [
      ['Event id', e.id], ['Time', fmtTime(e.time)], ['Principal', principalOf(e)], ['Method', d.methodName || ''],
      ['Resource', resourceOf(e)], ['Outcome', statusOf(e) + (errorOf(e) ? ' ' + errorOf(e) : '')],
      ['Message', d.result && d.result.message ? d.result.message : ''], ['Client', clientOf(e)], ['Type', e.type],
    ];
    dl.replaceChildren();
    for (const [k, v] of pairs) {
      if (v === '' || v === undefined || v === null) continue;
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = String(v);
      dl.append(dt, dd);
    }
    $('detail-json').textContent = JSON.stringify(e, null, 2);
    $('detail').hidden = false;
  }

  function updateExportLink() {
    const p = filterParams();
    p.set('source', st.source);
    $('export').href = API + 'export?' + p.toString();
  }

  async function search() {
    showError('');
    refreshOverview(true, 'search');
    const p = filterParams();
    p.set('limit', String(limit()));
    p.set('source', st.source);
    updateExportLink();
    $('count').textContent = 'searching…';
    const seq = ++st.seq;
    try {
      const r = await getJson(API + 'events?' + p.toString());
      if (seq !== st.seq) return; // a newer search has been started meanwhile
      st.shown = r.events;
      st.ids = new Set(r.events.map((e) => e.id));
      st.matched = r.matched;
      render();
    } catch (err) {
      if (seq !== st.seq) return;
      showError(err.message);
      $('count').textContent = '';
    }
    follow();
  }

  function follow() {
    if (st.es) { st.es.close(); st.es = null; }
    const on = $('live').checked && st.source === 'live';
    $('live-state').textContent = on ? 'following new events' : (st.source === 'loaded' ? 'live tail is off while a loaded range is shown' : '');
    if (!on) return;
    const es = new EventSource(API + 'stream?' + filterParams().toString());
    es.onmessage = (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch { return; }
      if (!e || st.ids.has(e.id)) return;
      st.ids.add(e.id);
      st.shown.unshift(e);
      st.matched++;
      const body = $('rows');
      body.insertBefore(makeRow(e, true), body.firstChild);
      while (st.shown.length > limit()) { st.shown.pop(); if (body.lastChild) body.removeChild(body.lastChild); }
      $('empty').hidden = true;
      updateCount();
      scheduleOverview('live');
    };
    es.onerror = () => { $('live-state').textContent = 'live tail reconnecting…'; };
    es.onopen = () => { $('live-state').textContent = 'following new events'; };
    st.es = es;
  }

  function setSource(src) {
    st.source = src;
    $('src-live').checked = src === 'live';
    $('src-loaded').checked = src === 'loaded';
  }

  async function load() {
    showError('');
    const p = filterParams();
    if (!p.get('from')) { showError('Set "From" (and optionally "To") to load a time range from the topic.'); return; }
    $('load').disabled = true;
    $('count').textContent = 'loading the range from the topic…';
    try {
      const r = await getJson(API + 'load?' + p.toString(), { method: 'POST' });
      $('loaded-info').textContent = 'loaded ' + r.count + (r.count === 1 ? ' event' : ' events') + (r.truncated ? ' (the newest ' + r.count + ' of ' + r.matched + ' kept)' : '') +
        (r.timedOut ? ' (stopped at the time limit before the end of the range)' : '') +
        ' from ' + fmtTime(r.from) + ' to ' + fmtTime(r.to);
      setSource('loaded');
      await search();
    } catch (err) {
      showError(err.message);
      $('count').textContent = '';
    } finally {
      $('load').disabled = false;
    }
  }

  async function refreshStatus() {
    try {
      const s = await getJson(API + 'status');
      const parts = ['consumer ' + s.consumer.state, s.index.size + ' of ' + s.index.capacity + ' recent events held', 'topics: ' + s.topics.join(', ')];
      if (s.consumer.lastError) parts.push('last error: ' + s.consumer.lastError);
      $('status').textContent = parts.join(' · ');
    } catch (err) {
      $('status').textContent = 'status unavailable: ' + err.message;
    }
  }

${OVERVIEW_JS}
  $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
  $('clear').addEventListener('click', () => {
    for (const f of FIELDS) $('f-' + f).value = '';
    $('f-from').value = ''; $('f-to').value = '';
    setSource('live');
    search();
  });
  $('load').addEventListener('click', () => { load(); });
  $('live').addEventListener('change', follow);
  $('src-live').addEventListener('change', () => { setSource('live'); search(); });
  $('src-loaded').addEventListener('change', () => { setSource('loaded'); search(); });
  $('close-detail').addEventListener('click', () => { $('detail').hidden = true; st.selectedId = null; for (const tr of $('rows').children) tr.classList.remove('selected'); });
  for (const b of document.querySelectorAll('.quick button')) {
    b.addEventListener('click', () => {
      $('f-from').value = msToInput(Date.now() - Number(b.dataset.ms));
      $('f-to').value = '';
      search();
    });
  }
  for (const id of FIELDS.map((f) => 'f-' + f).concat(['f-from', 'f-to'])) $(id).addEventListener('change', updateExportLink);

  refreshStatus();
  setInterval(refreshStatus, 10000);
  search();
})();
`;

/** Addresses of the chart library's files, served by the proxy (assets.ts). */
export interface PageAssets { script: string; style: string }

export function renderPage(nonce: string, assets: PageAssets): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Audit events · kafka-audit-proxy</title>
<link rel="stylesheet" nonce="${nonce}" href="${assets.style}">
<style nonce="${nonce}">${CSS}</style>
</head>
<body>
<header><h1>Kafka audit events</h1><span id="status">connecting…</span></header>
<main>
<div id="left">
<form id="filters" autocomplete="off">
  <label>From (UTC)<input id="f-from" type="datetime-local" step="0.001"></label>
  <label>To (UTC)<input id="f-to" type="datetime-local" step="0.001"></label>
  <label>Principal<input id="f-principal" placeholder="User:alice, User:*"></label>
  <label>Method<input id="f-method" placeholder="DeleteTopics, Create*"></label>
  <label>Resource<input id="f-resource" placeholder="orders, payments-*"></label>
  <label>Resource type<input id="f-resourceType" placeholder="Topic, Group"></label>
  <label>Client address<input id="f-client" placeholder="10.0.0.7, 10.0.*"></label>
  <label>Outcome<select id="f-outcome"><option value="">any</option><option value="success">success</option><option value="failure">not a success (any)</option><option value="error">failure (not denied)</option><option value="denied">denied</option><option value="unauthenticated">authentication failure</option><option value="unknown">unknown outcome</option><option value="none">no outcome (proxy)</option></select></label>
  <label>Error code<input id="f-errorCode" placeholder="36, TOPIC_ALREADY_EXISTS, *AUTHORIZATION*"></label>
  <label>Show at most<input id="f-limit" type="number" min="1" value="200"></label>
  <div class="actions">
    <button type="submit" id="search" class="primary">Search</button>
    <button type="button" id="clear">Clear</button>
    <span class="quick">last <button type="button" data-ms="900000">15 min</button> <button type="button" data-ms="3600000">1 h</button> <button type="button" data-ms="86400000">24 h</button> <button type="button" data-ms="604800000">7 d</button></span>
    <span class="spacer"></span>
    <label class="inline"><input type="radio" name="source" id="src-live" checked> recent events</label>
    <label class="inline"><input type="radio" name="source" id="src-loaded"> loaded range</label>
    <button type="button" id="load" title="Read the From/To range from the audit topic">Load range from topic</button>
    <a id="export" class="button" href="/audit/api/export" download="audit-events.ndjson">Export JSON lines</a>
  </div>
</form>
${OVERVIEW_HTML}
<div id="bar"><span id="count"></span><span id="loaded-info"></span><label><input type="checkbox" id="live" checked> live tail</label><span id="live-state"></span><span id="error" role="alert"></span></div>
<div id="table-wrap"><table id="results">
<thead><tr><th>Time (UTC)</th><th>Outcome</th><th>Error</th><th>Principal</th><th>Method</th><th>Resource</th><th>Client</th></tr></thead>
<tbody id="rows"></tbody>
</table></div>
<div id="empty" hidden>No matching events.</div>
</div>
<aside id="detail" hidden>
<h2>Event <span class="spacer"></span><button type="button" id="close-detail">Close</button></h2>
<dl id="detail-summary"></dl>
<pre id="detail-json"></pre>
</aside>
</main>
<script nonce="${nonce}" src="${assets.script}"></script>
<script nonce="${nonce}">${JS}</script>
</body>
</html>
`;
}

/** The page shown to a browser that has no credentials yet (token configured): a login form, nothing else. */
export function renderLoginPage(nonce: string, failed: boolean): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Audit events · sign in</title>
<style nonce="${nonce}">body{font:15px system-ui,sans-serif;margin:15vh auto;max-width:360px;color:#1d2330}input,button{font:inherit;padding:6px 8px;width:100%;margin-top:8px}p.err{color:#b42318}</style></head>
<body>
<h1>Audit events</h1>
<p>This page needs the audit browser token (browser.auth.token in the proxy configuration).</p>
${failed ? '<p class="err">That token is not valid.</p>' : ''}
<form method="post" action="/audit/login"><input type="password" name="token" placeholder="token" autofocus required><button type="submit">Open</button></form>
</body>
</html>
`;
}
