/**
 * The Helm chart (deploy/helm/kafka-audit-proxy), rendered with `helm template` for the defaults and for the README's
 * example values, each rendering checked against the Kubernetes API schemas of the oldest and newest Kubernetes
 * versions in kubernetes-validate (strict: unknown fields are errors), and against the proxy itself: the rendered
 * config.yaml, with the container's KAP_* variables, loads through the real loadConfig, and the ports, probes,
 * spool mount, ServiceMonitor and dashboard agree with it. helm and kubernetes-validate are installed by
 * scripts/setup.sh into .tools/ (see the README's "Kubernetes (Helm)" section).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHART = join(ROOT, 'deploy/helm/kafka-audit-proxy');
const EXAMPLES = join(ROOT, 'deploy/helm/examples');
const HELM = join(ROOT, '.tools/bin/helm');
const VALIDATE = join(ROOT, '.tools/venv/bin/kubernetes-validate');
/** Oldest and newest Kubernetes versions the chart is checked against (kubernetes-validate 1.37.0 ships 1.2x-1.37). */
const KUBERNETES_VERSIONS = ['1.29.0', '1.37.0'];

type Obj = Record<string, any>;

function tools(): void {
  for (const t of [HELM, VALIDATE]) {
    assert.ok(existsSync(t), `${t} is missing: run scripts/setup.sh (it installs helm and kubernetes-validate into .tools/)`);
  }
}

function helmTemplate(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(HELM, ['template', 'kap', CHART, '--namespace', 'kafka', ...args], { encoding: 'utf8' });
  return { code: r.status ?? 1, out: r.stdout, err: r.stderr };
}

function render(args: string[]): Obj[] {
  const r = helmTemplate(args);
  assert.equal(r.code, 0, `helm template ${args.join(' ')}: ${r.err}`);
  return parseAllDocuments(r.out).map((d) => d.toJS() as Obj).filter((d) => d);
}

function schemaCheck(name: string, args: string[]): void {
  const r = helmTemplate(args);
  assert.equal(r.code, 0, r.err);
  const dir = mkdtempSync(join(tmpdir(), 'kap-helm-'));
  try {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, r.out);
    for (const v of KUBERNETES_VERSIONS) {
      const k = spawnSync(VALIDATE, ['--strict', '--quiet', '-k', v, file], { encoding: 'utf8' });
      // Only the ServiceMonitor (a Prometheus Operator CRD) has no schema there; it is checked by hand below.
      const warnings = k.stdout.split('\n').filter((l) => l.startsWith('WARN') && !/kind ServiceMonitor with api version monitoring\.coreos\.com\/v1/.test(l));
      assert.equal(k.status, 0, `${name} against Kubernetes ${v}:\n${k.stdout}${k.stderr}`);
      assert.deepEqual(warnings, [], `${name} against Kubernetes ${v}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

const find = (docs: Obj[], kind: string, pred: (d: Obj) => boolean = () => true) => docs.filter((d) => d.kind === kind && pred(d));
const one = (docs: Obj[], kind: string, pred?: (d: Obj) => boolean) => {
  const found = find(docs, kind, pred);
  assert.equal(found.length, 1, `one ${kind} expected, found ${found.length}`);
  return found[0];
};

/** The proxy's configuration as the pod would load it: config.yaml plus the container's environment. */
function podConfig(docs: Obj[]) {
  const sts = one(docs, 'StatefulSet');
  const container = sts.spec.template.spec.containers[0];
  const cm = one(docs, 'ConfigMap', (d) => d.data?.['config.yaml'] !== undefined);
  const env: Record<string, string> = { POD_NAME: 'kap-kafka-audit-proxy-0', POD_NAMESPACE: 'kafka' };
  for (const e of container.env as Obj[]) {
    if (e.value !== undefined) env[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? '');
    else if (e.valueFrom?.secretKeyRef) env[e.name] = `from-secret-${e.valueFrom.secretKeyRef.key}`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kap-helm-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, cm.data['config.yaml']);
    const kapEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('KAP_')));
    return { config: loadConfig({ file, env: kapEnv }), sts, container, env };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

const SCENARIOS: Array<[string, string[]]> = [
  ['defaults', ['--set', 'audit.sasl.existingSecret=audit-credentials']],
  ['typical', ['-f', join(EXAMPLES, 'typical-values.yaml')]],
  ['behind an NLB', ['-f', join(EXAMPLES, 'typical-values.yaml'), '-f', join(EXAMPLES, 'behind-nlb-values.yaml')]],
  ['SNI routing', ['-f', join(EXAMPLES, 'typical-values.yaml'), '-f', join(EXAMPLES, 'sni-values.yaml')]],
  ['file sink, no SASL, every option on', ['--set', 'audit.sink=file', '--set', 'audit.sasl.mechanism=', '--set', 'upstream.tls.enabled=true',
    '--set', 'upstream.tls.secretName=up-ca', '--set', 'audit.tls.enabled=true', '--set', 'audit.tls.secretName=audit-ca',
    '--set', 'podDisruptionBudget.enabled=false', '--set', 'config.workers=2', '--set', 'config.limits.maxConnectionsPerAddress=500']],
];

describe('Helm chart', () => {
  test('helm lint passes', () => {
    tools();
    const r = spawnSync(HELM, ['lint', CHART, '--strict', '--set', 'audit.sasl.existingSecret=x'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  for (const [name, args] of SCENARIOS) {
    test(`${name}: renders, passes the Kubernetes schemas (${KUBERNETES_VERSIONS.join(', ')}) and the proxy's own config checks`, () => {
      tools();
      schemaCheck(name.replace(/\W+/g, '-'), args);
      const docs = render(args);
      const { config, sts, container } = podConfig(docs);
      const ports = Object.fromEntries((container.ports as Obj[]).map((p) => [p.name, p.containerPort]));
      const ids = Object.keys(ports).filter((n) => n.startsWith('broker-')).map((n) => Number(n.slice(7)));
      // One port per broker, or (SNI routing) none: every broker is a name on the bootstrap port.
      assert.ok(config.listen.sni ? ids.length === 0 : ids.length >= 1, `broker ports ${ids.join(', ')}`);
      assert.equal(ports.bootstrap, config.listen.bootstrapPort);
      for (const id of ids) assert.equal(ports[`broker-${id}`], config.listen.brokerPortBase + id);
      assert.equal(ports.admin, config.admin.port);
      assert.equal(config.admin.host, '0.0.0.0', 'kubelet and Prometheus reach the admin port on the pod IP');
      assert.equal(container.livenessProbe.httpGet.path, '/healthz');
      assert.equal(container.startupProbe.httpGet.path, '/healthz');
      assert.equal(container.readinessProbe.httpGet.path, '/readyz');
      for (const p of [container.livenessProbe, container.readinessProbe, container.startupProbe]) assert.equal(p.httpGet.port, 'admin');
      const spoolMount = (container.volumeMounts as Obj[]).find((m) => m.name === 'spool');
      assert.equal(spoolMount?.mountPath, config.audit.spool.dir, 'the spool directory is on the persistent volume');
      assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'spool');
      if (config.audit.sink === 'file') assert.ok(config.audit.filePath.startsWith(config.audit.spool.dir + '/'), 'the event file is on the volume');
      assert.equal(sts.spec.template.spec.enableServiceLinks, false);
      assert.ok(!config.listen.advertisedHost.startsWith('127.'), `advertisedHost ${config.listen.advertisedHost}`);
      // Every TLS path in config.yaml is under a mounted Secret.
      const mounts = (container.volumeMounts as Obj[]).map((m) => m.mountPath as string);
      for (const t of [config.listen.tls, config.upstream.tls, config.audit.tls]) {
        for (const f of [t?.ca, (t as Obj | undefined)?.cert, (t as Obj | undefined)?.key].filter(Boolean) as string[]) {
          assert.ok(mounts.some((m) => f.startsWith(m + '/')), `${f} is not on a mounted volume`);
        }
      }
      // Services: the headless one has every port; the client one has no admin port.
      const headless = one(docs, 'Service', (d) => d.spec.clusterIP === 'None');
      const client = one(docs, 'Service', (d) => d.spec.clusterIP !== 'None');
      assert.deepEqual(new Set((headless.spec.ports as Obj[]).map((p) => p.port)), new Set(Object.values(ports)));
      assert.ok(!(client.spec.ports as Obj[]).some((p) => p.port === config.admin.port), 'the client Service must not publish metrics');
      const podLabels = sts.spec.template.metadata.labels as Obj;
      for (const svc of [headless, client]) for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(podLabels[k], v);
      for (const pdb of find(docs, 'PodDisruptionBudget')) {
        for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
      }
      if (name === 'SNI routing') {
        assert.deepEqual(config.listen.sni, { bootstrapHost: 'bootstrap.kafka.example.com', brokerHostPattern: 'broker-$(nodeId).kafka.example.com' });
        assert.equal(config.listen.proxyProtocol, 'required');
        assert.deepEqual((client.spec.ports as Obj[]).map((p) => p.port), [config.listen.bootstrapPort], 'one client port');
      } else if (name === 'behind an NLB') {
        assert.equal(config.listen.proxyProtocol, 'required');
        assert.equal(config.listen.advertisedHost, 'kafka-audit.example.com');
        assert.equal(client.spec.type, 'LoadBalancer');
        assert.equal(client.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-proxy-protocol'], '*');
        assert.deepEqual((client.spec.ports as Obj[]).map((p) => p.port).sort(), Object.entries(ports).filter(([n]) => n !== 'admin').map(([, p]) => p).sort());
      } else {
        assert.equal(config.listen.proxyProtocol, 'off');
        assert.match(config.listen.advertisedHost, /^kap-kafka-audit-proxy-0\.kap-kafka-audit-proxy-headless\.kafka\.svc\.cluster\.local$/);
      }
      if (name === 'typical') {
        const sm = one(docs, 'ServiceMonitor');
        assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
        assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
        assert.deepEqual(sm.spec.endpoints.map((e: Obj) => [e.port, e.path]), [['admin', '/metrics']]);
        for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(headless.metadata.labels[k], v, `ServiceMonitor selects ${k}=${v}`);
        const dash = one(docs, 'ConfigMap', (d) => d.metadata.labels?.grafana_dashboard === '1');
        assert.deepEqual(JSON.parse(dash.data['kafka-audit-proxy.json']), JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/kafka-audit-proxy.json'), 'utf8')));
        assert.equal(find(docs, 'Secret').length, 0, 'existingSecret: the chart creates no Secret');
      }
      if (name.startsWith('file sink')) {
        assert.equal(config.workers, 2);
        assert.equal(config.limits.maxConnectionsPerAddress, 500);
        assert.equal(config.audit.sasl, undefined);
        assert.equal(find(docs, 'PodDisruptionBudget').length, 0);
      }
    });
  }

  test('SNI routing without client TLS fails at render time, saying what to set', () => {
    tools();
    const r = helmTemplate(['--set', 'audit.sasl.existingSecret=x', '--set', 'listeners.sni.enabled=true', '--set', 'listeners.sni.bootstrapHost=b.example', '--set', 'listeners.sni.brokerHostPattern=n$(nodeId).example']);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /listeners\.sni needs listeners\.tls/);
  });

  test('a SASL audit producer without credentials fails at render time, saying what to set', () => {
    tools();
    const r = helmTemplate([]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /audit\.sasl: set existingSecret \(a Secret with keys username and password\), or both username and password/);
    const withCreds = render(['--set', 'audit.sasl.username=audit-proxy', '--set', 'audit.sasl.password=s3cret-pw']);
    const secret = one(withCreds, 'Secret');
    assert.equal(secret.stringData.username, 'audit-proxy');
    // The password is only in the Secret, never in config.yaml.
    assert.ok(!one(withCreds, 'ConfigMap').data['config.yaml'].includes('s3cret-pw'));
  });
});
