/**
 * The overview above the audit browser's table: a timeline of operations stacked by outcome (uPlot, served by
 * the proxy from /audit/assets/), the top principals, methods, resources and client addresses of the
 * selection, and what deserves attention now. Everything comes from /audit/api/aggregates with the search's
 * own filters; every bar segment, legend entry and row narrows the search when clicked.
 *
 * OVERVIEW_JS runs inside the page's script (page.ts), so it shares its helpers ($, st, td, getJson,
 * filterParams, search, msToInput). As in the rest of the page, values from events reach the DOM through
 * textContent only.
 */

export const OVERVIEW_CSS = `
#overview { margin-top:10px; background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 12px 10px; }
#ov-head { display:flex; flex-wrap:wrap; gap:6px 14px; align-items:baseline; }
#ov-head h2 { font-size:14px; margin:0; }
#ov-summary { color:var(--muted); font-size:12px; }
#ov-error { color:var(--bad); font-size:12px; font-weight:600; }
#ov-legend { display:flex; flex-wrap:wrap; gap:6px; margin:6px 0 2px; }
#ov-legend button { font-size:12px; padding:1px 8px; display:inline-flex; align-items:center; gap:5px; }
#ov-legend button.zero { color:var(--muted); }
#ov-legend button b { font-variant-numeric:tabular-nums; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; }
.c-success { background:#3d9a5b; } .c-error { background:#e07b39; } .c-denied { background:#c0392b; }
.c-unauthenticated { background:#8e44ad; } .c-unknown { background:#7f8c8d; } .c-none { background:#b8c2cc; }
#timeline { min-height:170px; }
#timeline .u-over { cursor:pointer; }
#ov-hover { font-size:12px; color:var(--muted); min-height:1.4em; }
.panels { display:grid; gap:10px 14px; margin-top:6px; }
#panels-attention { grid-template-columns:repeat(3, minmax(0, 1fr)); }
#panels-top { grid-template-columns:repeat(4, minmax(0, 1fr)); }
@media (max-width: 1100px) { #panels-attention, #panels-top { grid-template-columns:repeat(2, minmax(0, 1fr)); } }
.panel { min-width:0; overflow-x:auto; }
.panel h3 { font-size:13px; margin:4px 0; display:flex; gap:6px; align-items:baseline; }
.panel h3 small { font-weight:normal; color:var(--muted); }
.panel.attention h3 { color:var(--bad); }
.panel table { font-size:12px; }
.panel th { position:static; }
.panel td { padding:2px 6px; }
.panel td.key, .panel td.principal, .panel td.resource, .panel td.client, .panel td.method { overflow-wrap:anywhere; }
.panel td.num, .panel th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.panel td.link { color:var(--accent); text-decoration:underline; cursor:pointer; }
.panel td.zero { color:var(--muted); }
.panel td.hot { color:var(--bad); font-weight:600; }
.panel tr.empty td { color:var(--muted); cursor:default; }
.panel p.more { margin:2px 0 0; font-size:11px; color:var(--muted); }
`;

/** Lists of the overview: [id, title, columns]; top lists first, then the attention panel. */
const TOPS: Array<[string, string]> = [['principal', 'Principals'], ['method', 'Methods'], ['resource', 'Resources'], ['client', 'Client addresses']];
const ATTENTION: Array<[string, string, string[]]> = [
  ['failedLogins', 'Failed logins', ['Principal', 'Client address']],
  ['denials', 'Authorization denials', ['Principal', 'Method', 'Resource']],
  ['destructive', 'Destructive operations', ['Principal', 'Method']],
];

export const OVERVIEW_HTML = `<section id="overview" aria-label="Overview of the selection">
<div id="ov-head"><h2>Overview</h2><span id="ov-summary">loading…</span><span id="ov-error" role="alert"></span></div>
<div id="ov-legend"></div>
<div id="timeline"></div>
<div id="ov-hover"></div>
<div class="panels" id="panels-attention">
${ATTENTION.map(([id, title, cols]) => `<div class="panel attention" id="panel-${id}"><h3>${title} <small id="sum-${id}"></small></h3><table><thead><tr>${cols.map((c) => `<th>${c}</th>`).join('')}<th class="num" title="in the last hour">1 h</th><th class="num" title="in the last 24 hours">24 h</th>${id === 'destructive' ? '<th class="num" title="of the last 24 hours: not a success">failed</th><th class="num" title="of the last 24 hours: denied">denied</th>' : ''}</tr></thead><tbody id="attn-${id}"></tbody></table><p class="more" id="more-${id}"></p></div>`).join('\n')}
</div>
<div class="panels" id="panels-top">
${TOPS.map(([id, title]) => `<div class="panel top" id="panel-${id}"><h3>${title} <small id="sum-${id}"></small></h3><table><thead><tr><th></th><th class="num">total</th><th class="num">failed</th><th class="num">denied</th></tr></thead><tbody id="top-${id}"></tbody></table><p class="more" id="more-${id}"></p></div>`).join('\n')}
</div>
</section>`;

export const OVERVIEW_JS = `
  // ---- Overview (overview-page.ts) ----
  const CLASSES = ['success', 'error', 'denied', 'unauthenticated', 'unknown', 'none'];
  const LABELS = { success: 'success', error: 'failure', denied: 'denied', unauthenticated: 'authentication failure', unknown: 'unknown outcome', none: 'no outcome (proxy)' };
  const COLORS = { success: '#3d9a5b', error: '#e07b39', denied: '#c0392b', unauthenticated: '#8e44ad', unknown: '#7f8c8d', none: '#b8c2cc' };
  const HINT = 'Click a bar to narrow the search to its time and outcome, drag across bars to narrow the time range; click a row below to add it to the search.';
  const OV = { seq: 0, timer: null, last: 0, inflight: false, again: false, againWhy: 'live', chart: null, tl: null, brushed: false };
  const fmtN = (n) => Number(n).toLocaleString('en-US');

  function applyFilter(f) {
    for (const k of ['principal', 'method', 'resource', 'resourceType', 'client']) if (f[k] !== undefined) $('f-' + k).value = f[k];
    if (f.outcome !== undefined) $('f-outcome').value = f.outcome;
    // Times come as ms (the chart) or ISO strings (attention rows); null clears the field.
    for (const k of ['from', 'to']) {
      if (f[k] === undefined) continue;
      $('f-' + k).value = f[k] === null ? '' : msToInput(typeof f[k] === 'string' ? Date.parse(f[k]) : f[k]);
    }
    search();
  }

  function fmtSpan(ms) {
    const units = [[86400000, 'd'], [3600000, 'h'], [60000, 'min'], [1000, 's']];
    for (const [u, name] of units) if (ms % u === 0) return (ms / u) + ' ' + name;
    return ms + ' ms';
  }
  function fmtRange(from, to) {
    const a = new Date(from).toISOString().replace('T', ' ').replace('.000Z', '').replace('Z', '');
    const b = new Date(to).toISOString().replace('T', ' ').replace('.000Z', '').replace('Z', '');
    return a.slice(0, 10) === b.slice(0, 10) ? a + ' – ' + b.slice(11) : a + ' – ' + b;
  }

  function chartBuckets() { const w = $('timeline').clientWidth || 800; return Math.max(12, Math.min(120, Math.floor(w / 14))); }

  // Lower and upper edge of each outcome's segment in bucket i.
  function stackAt(i) {
    let acc = 0;
    const bands = {};
    for (const c of CLASSES) { const v = OV.tl.counts[c][i]; bands[c] = [acc, acc + v]; acc += v; }
    return bands;
  }

  // uPlot draws series in order: the whole stack first, then each lower part over it, success last (at the bottom).
  function chartData(tl) {
    const xs = tl.times.map((t) => t / 1000);
    const cum = [];
    let run = tl.times.map(() => 0);
    for (const c of CLASSES) { run = run.map((v, i) => v + tl.counts[c][i]); cum.push(run); }
    return [xs].concat(cum.reverse());
  }

  function bucketAt(u, clientX) {
    const r = u.over.getBoundingClientRect();
    const t = u.posToVal(clientX - r.left, 'x') * 1000;
    const i = Math.floor((t - OV.tl.times[0]) / OV.tl.bucketMs);
    return i >= 0 && i < OV.tl.times.length ? i : -1;
  }

  function describeBucket(i) {
    const parts = CLASSES.filter((c) => OV.tl.counts[c][i] > 0).map((c) => fmtN(OV.tl.counts[c][i]) + ' ' + LABELS[c]);
    return fmtRange(OV.tl.times[i], OV.tl.times[i] + OV.tl.bucketMs - 1) + ' UTC: ' + (parts.length ? parts.join(' · ') : 'nothing');
  }

  function onHover(u) {
    if (!OV.tl || u.cursor.left == null || u.cursor.left < 0) { $('ov-hover').textContent = HINT; return; }
    const r = u.over.getBoundingClientRect();
    const i = bucketAt(u, r.left + u.cursor.left);
    $('ov-hover').textContent = i < 0 ? HINT : describeBucket(i);
  }

  // A drag selects whole buckets: from the start of the first to the end of the last one touched.
  function onBrush(u) {
    const s = u.select;
    if (!OV.tl || s.width < 3) return;
    OV.brushed = true;
    const r = u.over.getBoundingClientRect();
    const a = bucketAt(u, r.left + s.left), b = bucketAt(u, r.left + s.left + s.width);
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    const first = a < 0 ? 0 : a, last = b < 0 ? OV.tl.times.length - 1 : b;
    applyFilter({ from: OV.tl.times[first], to: OV.tl.times[last] + OV.tl.bucketMs - 1 });
  }

  function onChartClick(e) {
    if (OV.brushed) { OV.brushed = false; return; }
    const u = OV.chart;
    if (!OV.tl) return;
    const i = bucketAt(u, e.clientX);
    if (i < 0) return;
    const v = u.posToVal(e.clientY - u.over.getBoundingClientRect().top, 'y');
    const bands = stackAt(i);
    const hit = CLASSES.find((c) => bands[c][1] > bands[c][0] && v >= bands[c][0] && v < bands[c][1]);
    const f = { from: OV.tl.times[i], to: OV.tl.times[i] + OV.tl.bucketMs - 1 };
    if (hit) f.outcome = hit;
    applyFilter(f);
  }

  // Axis labels in UTC, 24-hour: the date where a day starts (or on the first label), the time otherwise.
  function timeLabels(u, splits, axisIdx, foundSpace, foundIncr) {
    return splits.map((s, i) => {
      const iso = new Date(s * 1000).toISOString();
      const day = iso.slice(5, 10), hm = iso.slice(11, foundIncr < 60 ? 19 : 16);
      if (foundIncr >= 86400) return day;
      return i === 0 || iso.slice(11, 19) === '00:00:00' ? day + ' ' + hm : hm;
    });
  }

  function makeChart() {
    const el = $('timeline');
    if (typeof uPlot !== 'function') { el.textContent = 'The chart library (uPlot) did not load; the lists below still work.'; return; }
    const bars = uPlot.paths.bars({ size: [0.9, Infinity, 1], align: 1 });
    const series = [{}].concat(CLASSES.slice().reverse().map((c) => ({ label: LABELS[c], fill: COLORS[c], stroke: COLORS[c], width: 0, paths: bars, points: { show: false } })));
    const incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
    OV.chart = new uPlot({
      width: el.clientWidth || 800, height: 170,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
      scales: {
        x: { time: true, range: () => OV.tl ? [OV.tl.times[0] / 1000, (OV.tl.times[OV.tl.times.length - 1] + OV.tl.bucketMs) / 1000] : [0, 1] },
        y: { range: (u, min, max) => [0, Math.max(1, max) * 1.08] },
      },
      // Whole seconds at least (buckets are never shorter), and room for a date and a time per label.
      axes: [{ values: timeLabels, space: 90, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000] }, { size: 48, incrs: incrs, values: (u, vals) => vals.map((v) => fmtN(v)) }],
      series: series,
      hooks: { setSelect: [onBrush], setCursor: [onHover] },
    }, chartData(OV.tl), el);
    // Where a bucket is on screen, for tests that click a bar as a person would.
    el.uplot = OV.chart;
    OV.chart.over.addEventListener('click', onChartClick);
    // The window, or the event detail opening beside the table, changes the width.
    let width = el.clientWidth;
    new ResizeObserver(() => {
      if (!OV.chart || el.clientWidth === width) return;
      width = el.clientWidth;
      OV.chart.setSize({ width: width || 800, height: 170 });
    }).observe(el);
  }

  function renderLegend(a) {
    const box = $('ov-legend');
    box.replaceChildren(...CLASSES.filter((c) => c !== 'none' || a.outcomes.none > 0).map((c) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.outcome = c;
      if (a.outcomes[c] === 0) b.className = 'zero';
      const sw = document.createElement('span'); sw.className = 'swatch c-' + c;
      const label = document.createElement('span'); label.textContent = LABELS[c];
      const n = document.createElement('b'); n.textContent = fmtN(a.outcomes[c]);
      b.append(sw, label, n);
      b.title = 'Show only ' + LABELS[c];
      b.addEventListener('click', () => applyFilter({ outcome: c }));
      return b;
    }));
  }

  function numCell(tr, n, cls, filter, outcome) {
    const c = document.createElement('td');
    c.textContent = fmtN(n);
    c.className = cls + ' num' + (n === 0 ? ' zero' : '');
    if (filter && n > 0) {
      c.classList.add('link');
      c.title = 'Add to the search, ' + (outcome === 'failure' ? 'failed operations' : 'denied operations') + ' only';
      c.addEventListener('click', (ev) => { ev.stopPropagation(); applyFilter(Object.assign({}, filter, { outcome: outcome })); });
    }
    tr.appendChild(c);
  }

  function clickableRow(filter) {
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    tr.title = 'Add to the search';
    tr.addEventListener('click', () => applyFilter(filter));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') applyFilter(filter); });
    return tr;
  }

  function emptyRow(cols, text) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const c = document.createElement('td'); c.colSpan = cols; c.textContent = text;
    tr.appendChild(c);
    return tr;
  }

  function renderTop(dim, list) {
    const rows = list.rows.map((r) => {
      const tr = clickableRow(r.filter);
      tr.dataset.key = r.key;
      td(tr, r.key, 'key');
      numCell(tr, r.total, 'total');
      numCell(tr, r.failed, 'failed', r.filter, 'failure');
      numCell(tr, r.denied, 'denied', r.filter, 'denied');
      return tr;
    });
    $('top-' + dim).replaceChildren(...(rows.length ? rows : [emptyRow(4, 'none')]));
    $('sum-' + dim).textContent = list.distinct ? fmtN(list.distinct) + ' distinct' : '';
    $('more-' + dim).textContent = list.distinct > list.rows.length ? 'the top ' + list.rows.length + ' of ' + fmtN(list.distinct) : '';
  }

  function renderAttention(id, list) {
    const cols = id === 'failedLogins' ? 4 : id === 'denials' ? 5 : 6;
    const rows = list.rows.map((r) => {
      // The row's events are the last day's (its filter has from): an end of the range set before would cut them.
      const tr = clickableRow(Object.assign({ to: null }, r.filter));
      td(tr, r.principal === null ? '(none)' : r.principal, 'principal');
      if (id === 'failedLogins') td(tr, r.client || '', 'client');
      if (id !== 'failedLogins') td(tr, r.method || '', 'method');
      if (id === 'denials') td(tr, (r.resourceType ? r.resourceType + ' ' : '') + (r.resourceName || ''), 'resource');
      numCell(tr, r.lastHour, 'lastHour' + (r.lastHour > 0 ? ' hot' : ''));
      numCell(tr, r.lastDay, 'lastDay');
      if (id === 'destructive') { numCell(tr, r.failed, 'failed'); numCell(tr, r.denied, 'denied'); }
      tr.dataset.key = [r.principal, r.client, r.method, r.resourceType, r.resourceName].filter((x) => x !== undefined && x !== null).join(' ');
      return tr;
    });
    $('attn-' + id).replaceChildren(...(rows.length ? rows : [emptyRow(cols, 'none in the last day')]));
    $('sum-' + id).textContent = fmtN(list.lastHour) + ' in the last hour · ' + fmtN(list.lastDay) + ' in the last day';
    $('more-' + id).textContent = list.more > 0 ? list.more + ' more not shown' : '';
  }

  function renderOverview(a) {
    OV.tl = a.timeline;
    const tl = a.timeline;
    $('ov-summary').textContent = fmtN(a.matched.operations) + (a.matched.operations === 1 ? ' operation' : ' operations') +
      (a.matched.events !== a.matched.operations ? ' in ' + fmtN(a.matched.events) + ' events' : '') +
      ' · ' + fmtRange(tl.from, tl.to) + ' UTC · bars of ' + fmtSpan(tl.bucketMs) +
      (tl.untimed ? ' · ' + fmtN(tl.untimed) + ' without a time' : '') + (st.source === 'loaded' ? ' · loaded range' : '');
    renderLegend(a);
    if (OV.chart) OV.chart.setData(chartData(tl)); else makeChart();
    $('timeline').dataset.buckets = String(tl.times.length);
    if (!$('ov-hover').textContent) $('ov-hover').textContent = HINT;
    for (const d of ['principal', 'method', 'resource', 'client']) renderTop(d, a.top[d]);
    for (const id of ['failedLogins', 'denials', 'destructive']) renderAttention(id, a.attention[id]);
    $('overview').dataset.seq = String(OV.seq);
  }

  // A search asks at once (an older answer in flight is dropped); live updates wait for the one in flight.
  // \`why\` (search, live, clock) is kept on the section once shown: what made the page refresh, for tests.
  async function refreshOverview(now, why) {
    if (OV.inflight && !now) { OV.again = true; OV.againWhy = why; return; }
    OV.inflight = true;
    OV.last = Date.now();
    const p = filterParams();
    p.set('source', st.source);
    p.set('buckets', String(chartBuckets()));
    p.set('attentionRows', '8');
    p.set('top', '8');
    const seq = ++OV.seq;
    $('overview').dataset.state = 'loading';
    try {
      const a = await getJson(API + 'aggregates?' + p.toString());
      if (seq === OV.seq) { renderOverview(a); $('ov-error').textContent = ''; $('overview').dataset.trigger = why; }
    } catch (err) {
      if (seq === OV.seq) $('ov-error').textContent = 'overview unavailable: ' + err.message;
    } finally {
      if (seq === OV.seq) {
        OV.inflight = false;
        $('overview').dataset.state = 'ready';
        if (OV.again) { OV.again = false; scheduleOverview(OV.againWhy); }
      }
    }
  }

  // Live tail: at most one refresh a second, however fast events arrive (each one is a pass over the index).
  function scheduleOverview(why) {
    if (OV.timer) return;
    OV.timer = setTimeout(() => { OV.timer = null; refreshOverview(false, why); }, Math.max(0, OV.last + 1000 - Date.now()));
  }

  // The attention windows slide with the clock even when nothing happens.
  setInterval(() => { if ($('live').checked && st.source === 'live') scheduleOverview('clock'); }, 30000);
`;
