/**
 * deploy/grafana/kafka-audit-proxy.json and deploy/prometheus/alerts.yaml against the metrics the proxy really
 * exports (a ProxyMetrics registry with its audit sink gauges set, default process metrics included, and the admin
 * server's readiness gauges): the dashboard parses as JSON, every PromQL expression (panels, template variables,
 * alert rules) names only metrics that exist, with label names those metrics have, every kafka_* metric is on the
 * dashboard, and the README has a runbook line for every alert. No cluster needed. promtool.test.ts evaluates the
 * rules with promtool; prometheus-live.test.ts runs every dashboard query against a real Prometheus.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ProxyMetrics } from '../../src/metrics.js';
import { ReadinessMetrics } from '../../src/admin/server.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Metric name (as queried, e.g. with _bucket) → its label names. */
async function exportedMetrics(): Promise<Map<string, Set<string>>> {
  const m = new ProxyMetrics();
  // Exported once an audit sink exists (absent with audit.enabled: false).
  m.auditSinkUp.set(1);
  m.auditSpoolMaxBytes.set(1);
  const readiness = new ReadinessMetrics();
  readiness.update([]);
  const out = new Map<string, Set<string>>();
  for (const registry of [m.registry, readiness.registry]) for (const metric of await registry.getMetricsAsJSON()) {
    const labels = new Set<string>(((registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] })?.labelNames) ?? []);
    for (const v of metric.values) for (const k of Object.keys(v.labels ?? {})) labels.add(k);
    if (String(metric.type) === 'histogram') {
      out.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
      out.set(`${metric.name}_sum`, labels);
      out.set(`${metric.name}_count`, labels);
    } else {
      out.set(metric.name, labels);
    }
  }
  return out;
}

/**
 * Labels every scraped series has (target labels added by Prometheus / the scrape config), and `worker`, which the
 * primary adds to every gauge with workers: N (src/workers.ts).
 */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'worker'];
/** Series Prometheus itself makes. */
const PROMETHEUS_SERIES = new Map([['up', new Set<string>()]]);
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'group', 'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv',
  'predict_linear', 'histogram_quantile', 'abs', 'clamp_min', 'clamp_max', 'absent', 'label_values', 'by', 'without', 'on', 'ignoring',
  'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'time', 'vector', 'scalar', 'avg_over_time', 'max_over_time', 'min_over_time',
]);

interface Checked { metrics: string[] }

/** Checks one PromQL expression; returns the metrics it uses. */
function checkExpr(expr: string, known: Map<string, Set<string>>, where: string): Checked {
  const all = new Map([...known, ...PROMETHEUS_SERIES]);
  let e = expr.replace(/\$__\w+|\$\{?\w+\}?/g, '1m'); // Grafana variables
  const used: string[] = [];
  // Selectors with matchers: metric{label="value", ...}.
  e = e.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g, (_m, name: string, matchers: string) => {
    assert.ok(all.has(name), `${where}: metric ${name} is not exported (expr: ${expr})`);
    used.push(name);
    for (const mm of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)) {
      const label = mm[1];
      assert.ok(all.get(name)!.has(label) || TARGET_LABELS.includes(label), `${where}: ${name} has no label ${label} (expr: ${expr})`);
    }
    return ' ';
  });
  e = e.replace(/"(?:[^"\\]|\\.)*"/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  // Grouping labels: by (...), without (...), on (...), ignoring (...).
  const groupings: string[] = [];
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, _kw, labels: string) => {
    groupings.push(...labels.split(',').map((s) => s.trim()).filter(Boolean));
    return ' ';
  });
  for (const m of e.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)/g)) {
    const id = m[1];
    if (PROMQL_WORDS.has(id)) continue;
    assert.ok(all.has(id), `${where}: ${id} is neither a PromQL word nor an exported metric (expr: ${expr})`);
    used.push(id);
  }
  assert.ok(used.length > 0, `${where}: the expression uses no metric (expr: ${expr})`);
  const labelsOfUsed = new Set([...used.flatMap((n) => [...all.get(n)!]), ...TARGET_LABELS]);
  for (const g of groupings) assert.ok(labelsOfUsed.has(g), `${where}: grouping label ${g} is not a label of ${used.join(', ')} (expr: ${expr})`);
  return { metrics: used };
}

describe('monitoring assets match the exported metrics', () => {
  test('the Grafana dashboard parses, and every expression names existing metrics and labels', async () => {
    const known = await exportedMetrics();
    // Sanity: the registry has what the dashboard is about.
    for (const n of ['kafka_proxy_requests_total', 'kafka_audit_sink_up', 'kafka_proxy_request_duration_seconds_bucket', 'process_resident_memory_bytes']) assert.ok(known.has(n), n);

    const text = readFileSync(join(ROOT, 'deploy', 'grafana', 'kafka-audit-proxy.json'), 'utf8');
    const dash = JSON.parse(text) as {
      uid: string; title: string; schemaVersion: number;
      panels: Array<{ id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { uid: string }; targets?: Array<{ expr: string; refId: string }> }>;
      templating: { list: Array<{ name: string; type: string; query: string | { query: string } }> };
    };
    assert.equal(dash.uid, 'kafka-audit-proxy');
    assert.ok(dash.schemaVersion >= 30);
    const ids = dash.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');

    const onDashboard = new Set<string>();
    let exprs = 0;
    for (const p of dash.panels) {
      assert.ok(p.gridPos && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the 24-column grid`);
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: uses the datasource variable`);
      assert.ok(p.targets && p.targets.length > 0, `${p.title}: has queries`);
      for (const t of p.targets) {
        exprs++;
        for (const m of checkExpr(t.expr, known, `panel "${p.title}" ${t.refId}`).metrics) onDashboard.add(m.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    for (const v of dash.templating.list.filter((x) => x.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
      assert.ok(m, `variable ${v.name}: a label_values query`);
      checkExpr(m[1], known, `variable ${v.name}`);
    }
    assert.ok(exprs >= 20, `${exprs} expressions checked`);
    // The overhead panel draws the difference, not two lines to subtract by eye.
    const overhead = dash.panels.find((p) => /overhead/i.test(p.title))!;
    for (const t of overhead.targets!) assert.match(t.expr, /histogram_quantile\(.*request_duration.*\) - histogram_quantile\(.*upstream_duration.*\)/, `${overhead.title}: ${t.refId} subtracts`);

    // Every proxy metric of src/metrics.ts has a panel.
    const ours = [...known.keys()].filter((n) => n.startsWith('kafka_')).map((n) => n.replace(/_(bucket|sum|count)$/, ''));
    const missing = [...new Set(ours)].filter((n) => !onDashboard.has(n));
    assert.deepEqual(missing, [], 'metrics without a panel');
  });

  test('the alert rules parse, name existing metrics, and carry for/severity/summary', async () => {
    const known = await exportedMetrics();
    const rules = parseYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
      groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for: string; labels: { severity: string }; annotations: { summary: string; description: string } }> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    const names = alerts.map((a) => a.alert);
    for (const required of ['KafkaAuditEventsDropped', 'KafkaAuditSinkDown', 'KafkaAuditSpoolGrowing', 'KafkaProxyUpstreamUnreachable']) assert.ok(names.includes(required), required);
    // A runbook line per alert in the README's Metrics section: "- **`AlertName`** (severity): what it means. What to do."
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const metricsSection = readme.slice(readme.indexOf('\n## Metrics'), readme.indexOf('\n## ', readme.indexOf('\n## Metrics') + 5));
    for (const n of names) assert.match(metricsSection, new RegExp(`^- \\*\\*\`${n}\`\\*\\*.{40,}`, 'm'), `README ## Metrics: a runbook line for ${n}`);
    for (const a of alerts) {
      checkExpr(a.expr, known, `alert ${a.alert}`);
      assert.match(a.for, /^\d+[smh]$/, `${a.alert}: for`);
      assert.ok(['warning', 'critical'].includes(a.labels.severity), `${a.alert}: severity`);
      assert.ok(a.annotations.summary && a.annotations.description, `${a.alert}: annotations`);
    }
    const scrape = parseYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'scrape.yaml'), 'utf8')) as { rule_files: string[]; scrape_configs: Array<{ job_name: string; metrics_path: string }> };
    assert.deepEqual(scrape.rule_files, ['alerts.yaml']);
    for (const s of scrape.scrape_configs) {
      assert.equal(s.metrics_path, '/metrics');
      assert.match(s.job_name, /^kafka-audit-proxy/, 'job names match the KafkaAuditProxyDown rule');
    }
  });

  test('the expression checker itself rejects unknown metrics and labels', async () => {
    const known = await exportedMetrics();
    assert.throws(() => checkExpr('rate(kafka_proxy_request_total[5m])', known, 't'), /kafka_proxy_request_total is neither/);
    assert.throws(() => checkExpr('sum(kafka_proxy_requests_total{apii="Produce"})', known, 't'), /has no label apii/);
    assert.throws(() => checkExpr('sum by (topic) (rate(kafka_proxy_requests_total[5m]))', known, 't'), /grouping label topic/);
    assert.deepEqual(checkExpr('histogram_quantile(0.99, sum by (api, le) (rate(kafka_proxy_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', known, 't').metrics,
      ['kafka_proxy_request_duration_seconds_bucket']);
  });
});
