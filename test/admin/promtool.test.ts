/**
 * The shipped alert rules under Debian's promtool (no cluster needed): `promtool check rules`, and `promtool test
 * rules` with test/admin/alerts.promtest.yaml, whose cases are checked here to cover every alert both ways (a case
 * that fires it after its `for:` window, with its rendered annotations, and a case that must not). `check metrics`
 * on the exposition of one process and of the primary's worker aggregation; prometheus-live.test.ts runs it on a
 * live proxy, and `check config` on the scrape configuration it generates.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ProxyMetrics } from '../../src/metrics.js';
import { aggregateWorkerMetrics } from '../../src/workers.js';
import { ALERTS_FILE, ROOT, promtool, scrapeConfig } from './prometheus.js';

const PROMTEST = join(ROOT, 'test', 'admin', 'alerts.promtest.yaml');

interface AlertTest { eval_time: string; alertname: string; exp_alerts: Array<{ exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }> }
interface PromTest { name?: string; alert_rule_test?: AlertTest[] }

const minutes = (d: string): number => {
  const m = /^(\d+)([smh])$/.exec(d);
  assert.ok(m, `a duration: ${d}`);
  return Number(m[1]) * { s: 1 / 60, m: 1, h: 60 }[m[2] as 's' | 'm' | 'h'];
};

describe('alert rules under promtool', () => {
  test('promtool check rules: the shipped rules are valid', async () => {
    const r = await promtool(['check', 'rules', ALERTS_FILE]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /SUCCESS: \d+ rules found/);
  });

  test('promtool test rules: every alert fires on its failure after its for: window, and not on healthy series', async () => {
    const r = await promtool(['test', 'rules', PROMTEST]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /SUCCESS/);

    // Coverage: each alert has a firing case with rendered annotations, a case that must not fire, and, when it
    // has a for: window, a case that shows it still pending before the window ends and firing at its end.
    const rules = (parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; for: string }> }> }).groups.flatMap((g) => g.rules);
    const tests = (parseYaml(readFileSync(PROMTEST, 'utf8')) as { tests: PromTest[] }).tests;
    for (const rule of rules) {
      const cases = tests.map((t) => (t.alert_rule_test ?? []).filter((a) => a.alertname === rule.alert));
      const all = cases.flat();
      const firing = all.filter((a) => a.exp_alerts.length > 0);
      assert.ok(firing.length > 0, `${rule.alert}: a case that fires it`);
      assert.ok(all.some((a) => a.exp_alerts.length === 0), `${rule.alert}: a case that must not fire`);
      for (const f of firing) for (const a of f.exp_alerts) assert.ok(a.exp_annotations?.summary && a.exp_annotations.description, `${rule.alert}: rendered summary and description checked`);
      if (minutes(rule.for) > 0) {
        const windowShown = cases.some((group) => group.some((f) => f.exp_alerts.length > 0 && group.some((p) =>
          p.exp_alerts.length === 0 && minutes(p.eval_time) < minutes(f.eval_time) && minutes(f.eval_time) - minutes(p.eval_time) <= 1)));
        assert.ok(windowShown, `${rule.alert}: not firing a minute before it fires (its for: ${rule.for} window)`);
      }
    }
  });

  test('promtool test rules fails on a wrong expectation (the check is live)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-promtest-'));
    try {
      const broken = readFileSync(PROMTEST, 'utf8')
        .replace('../../deploy/prometheus/alerts.yaml', ALERTS_FILE)
        .replace('proxy-1:9099 worker 2: audit cluster', 'proxy-1:9099 worker 1: audit cluster');
      writeFileSync(join(dir, 't.yaml'), broken);
      const r = await promtool(['test', 'rules', join(dir, 't.yaml')]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /worker 2: audit cluster/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('promtool check config: a scrape configuration with the shipped rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-promcfg-'));
    try {
      writeFileSync(join(dir, 'prometheus.yml'), scrapeConfig('127.0.0.1:9099', 15));
      const r = await promtool(['check', 'config', join(dir, 'prometheus.yml')]);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /SUCCESS: 1 rule files found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('promtool check metrics: one process, and two workers aggregated by the primary', async () => {
    const one = new ProxyMetrics();
    one.auditSinkUp.set(1);
    one.auditSpoolMaxBytes.set(1024);
    const text = await one.registry.metrics();
    const r1 = await promtool(['check', 'metrics'], text);
    assert.equal(r1.code, 0, r1.output);

    const two = new ProxyMetrics();
    two.auditSinkUp.set(0);
    const aggregated = await aggregateWorkerMetrics([[1, await one.registry.getMetricsAsJSON()], [2, await two.registry.getMetricsAsJSON()]]).metrics();
    const r2 = await promtool(['check', 'metrics'], aggregated);
    assert.equal(r2.code, 0, r2.output);
  });
});
