/**
 * The Helm chart (deploy/helm/kafka-audit-proxy), rendered with `helm template` for the defaults and for the README's
 * example values, each rendering checked against the Kubernetes API schemas of the oldest and newest Kubernetes
 * versions in kubernetes-validate (strict: unknown fields are errors), and against the proxy itself: the rendered
 * config.yaml, with the container's KAP_* variables, loads through the real loadConfig, and the ports, probes,
 * spool mount, ServiceMonitor and dashboard agree with it. The chart's values.schema.json (which helm applies on
 * install, upgrade, template and lint) is checked both ways: it describes every key of values.yaml and lets the
 * defaults, every example and every value its enums allow through to a config the proxy loads, and typical mistakes
 * (an unknown or misspelled key, a wrong type, a value outside an enum) make `helm template` fail naming the key.
 * helm and kubernetes-validate are installed by scripts/setup.sh into .tools/ (see the README's "Kubernetes (Helm)"
 * section).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHART = join(ROOT, 'deploy/helm/kafka-audit-proxy');
const EXAMPLES = join(ROOT, 'deploy/helm/examples');
const HELM = join(ROOT, '.tools/bin/helm');
const VALIDATE = join(ROOT, '.tools/venv/bin/kubernetes-validate');
const SCHEMA = join(CHART, 'values.schema.json');
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

  test('mutual TLS to the brokers and to the audit cluster: clientCertificate hands the Secret\'s tls.crt/tls.key to the proxy', () => {
    tools();
    const base = ['--set', 'audit.sasl.existingSecret=x', '--set', 'upstream.tls.enabled=true', '--set', 'upstream.tls.secretName=up-tls',
      '--set', 'audit.tls.enabled=true', '--set', 'audit.tls.secretName=audit-tls'];
    const off = podConfig(render(base)).config;
    assert.equal(off.upstream.tls?.ca, '/etc/kafka-audit-proxy/upstream-tls/ca.crt');
    assert.equal(off.upstream.tls?.cert, undefined, 'no client certificate unless asked for');
    assert.equal(off.audit.tls?.key, undefined);
    const on = podConfig(render([...base, '--set', 'upstream.tls.clientCertificate=true', '--set', 'audit.tls.clientCertificate=true']));
    assert.deepEqual([on.config.upstream.tls?.cert, on.config.upstream.tls?.key],
      ['/etc/kafka-audit-proxy/upstream-tls/tls.crt', '/etc/kafka-audit-proxy/upstream-tls/tls.key']);
    assert.deepEqual([on.config.audit.tls?.cert, on.config.audit.tls?.key],
      ['/etc/kafka-audit-proxy/audit-tls/tls.crt', '/etc/kafka-audit-proxy/audit-tls/tls.key']);
    // The files are where the config says: the Secrets are mounted at those directories.
    const mounts = (on.container.volumeMounts as Obj[]).map((m) => m.mountPath);
    assert.ok(mounts.includes('/etc/kafka-audit-proxy/upstream-tls') && mounts.includes('/etc/kafka-audit-proxy/audit-tls'), JSON.stringify(mounts));
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

  test('values.schema.json describes every key of values.yaml and rejects unknown keys outside the free-form maps', () => {
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Obj;
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
    // Maps whose keys are the user's (proxy settings, Kubernetes objects, labels, annotations): any key goes.
    const FREE_FORM = new Set(['global', 'config', 'resources', 'affinity', 'nodeSelector', 'podAnnotations', 'podLabels', 'service.annotations',
      'serviceMonitor.labels', 'grafanaDashboard.labels', 'grafanaDashboard.annotations', 'extraEnv[].valueFrom', 'tolerations[]', 'topologySpreadConstraints[]']);
    const problems: string[] = [];
    const walkValues = (v: unknown, s: Obj | undefined, path: string) => {
      if (!s) { problems.push(`${path}: in values.yaml, not in the schema`); return; }
      if (!s.description) problems.push(`${path || '(root)'}: no description`);
      if (v && typeof v === 'object' && !Array.isArray(v) && s.properties) {
        for (const [k, x] of Object.entries(v)) walkValues(x, s.properties[k], path ? `${path}.${k}` : k);
      }
    };
    walkValues(values, schema, '');
    const walkSchema = (s: Obj, path: string) => {
      if (s.type === 'object' && !s.properties && !FREE_FORM.has(path)) problems.push(`${path}: an object with no properties, not a known free-form map`);
      if (s.properties && s.additionalProperties !== false) problems.push(`${path || '(root)'}: additionalProperties is not false (typos would pass)`);
      for (const [k, x] of Object.entries((s.properties ?? {}) as Obj)) walkSchema(x, path ? `${path}.${k}` : k);
      if (s.items) walkSchema(s.items, `${path}[]`);
      for (const x of (s.anyOf ?? []) as Obj[]) walkSchema(x, path);
    };
    walkSchema(schema, '');
    for (const k of FREE_FORM) {
      const s = k.split('.').reduce((o: Obj | undefined, p) => (p.endsWith('[]') ? o?.properties?.[p.slice(0, -2)]?.items : o?.properties?.[p]), schema);
      assert.ok(s && s.type === 'object' && s.additionalProperties !== false, `${k} must stay a free-form map`);
    }
    assert.deepEqual(problems, []);
  });

  test('every example values file is rendered above and passes helm lint --strict with the values schema', () => {
    tools();
    const used = new Set(SCENARIOS.flatMap(([, args]) => args.filter((a) => a.startsWith(EXAMPLES))));
    const examples = readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(EXAMPLES, f));
    assert.ok(examples.length >= 3, `examples: ${examples.join(', ')}`);
    for (const file of examples) {
      assert.ok(used.has(file), `${file} is not rendered by any scenario of this file: add one`);
      // The overlays (NLB, SNI) go on top of typical-values.yaml, as their comments say.
      const layers = file.endsWith('typical-values.yaml') ? [file] : [join(EXAMPLES, 'typical-values.yaml'), file];
      const r = spawnSync(HELM, ['lint', CHART, '--strict', ...layers.flatMap((f) => ['-f', f])], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${file}: ${r.stdout}${r.stderr}`);
    }
  });

  // Each mistake, with otherwise valid values, must stop `helm template` at the schema, naming the key.
  const MISTAKES: Array<[string, string[] | string, RegExp]> = [
    ['an unknown top-level key (replicacount)', ['--set', 'replicacount=3'], /at '': additional properties 'replicacount' not allowed/],
    ['a misspelled nested key (spool.sizee)', ['--set', 'spool.sizee=10Gi'], /at '\/spool': additional properties 'sizee' not allowed/],
    ['a key under the wrong section (audit.spool.maxBytes)', ['--set', 'audit.spool.maxBytes=1000'], /at '\/audit': additional properties 'spool' not allowed/],
    ['a misspelled key three levels down (listeners.tls.secretname)', ['--set', 'listeners.tls.secretname=tls'], /at '\/listeners\/tls': additional properties 'secretname' not allowed/],
    ['a string where a number goes (replicaCount: two)', ['--set', 'replicaCount=two'], /at '\/replicaCount': got string, want integer/],
    ['a quoted port (listeners.bootstrapPort: "9192")', ['--set-string', 'listeners.bootstrapPort=9192'], /at '\/listeners\/bootstrapPort': got string, want integer/],
    ['an unquoted off, which YAML reads as false (listeners.proxyProtocol)', 'listeners:\n  proxyProtocol: off\n', /at '\/listeners\/proxyProtocol': got boolean, want string/],
    ['a numeric image tag (image.tag: 1.0)', 'image:\n  tag: 1.0\n', /at '\/image\/tag': got number, want string/],
    ['an unknown listener mode (listeners.proxyProtocol: maybe)', ['--set', 'listeners.proxyProtocol=maybe'], /at '\/listeners\/proxyProtocol': value must be one of 'required', 'allowed', 'off'/],
    ['an unknown security protocol (listeners.securityProtocol: TLS)', ['--set', 'listeners.securityProtocol=TLS'], /at '\/listeners\/securityProtocol': value must be one of 'PLAINTEXT', 'SASL_PLAINTEXT', 'SSL', 'SASL_SSL'/],
    ['an unknown audit sink (audit.sink: s3)', ['--set', 'audit.sink=s3'], /at '\/audit\/sink': value must be one of 'kafka', 'file'/],
    ['an unknown fsync policy (spool.fsync: sometimes)', ['--set', 'spool.fsync=sometimes'], /at '\/spool\/fsync': value must be one of 'always', 'never'/],
    ['an unknown sampling mode (audit.rules.categories.produce: sometimes)', ['--set', 'audit.rules.categories.produce=sometimes'], /at '\/audit\/rules\/categories\/produce'/],
    ['a non-string annotation (service.annotations)', 'service:\n  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-internal: true\n', /at '\/service\/annotations\/service\.beta\.kubernetes\.io~1aws-load-balancer-internal': got boolean, want string/],
  ];
  for (const [what, mistake, expected] of MISTAKES) {
    test(`values schema: ${what} fails helm template, naming the key`, () => {
      tools();
      const dir = mkdtempSync(join(tmpdir(), 'kap-helm-'));
      try {
        let args = mistake as string[];
        if (typeof mistake === 'string') {
          writeFileSync(join(dir, 'mistake.yaml'), mistake);
          args = ['-f', join(dir, 'mistake.yaml')];
        }
        const r = helmTemplate(['--set', 'audit.sasl.existingSecret=audit-credentials', ...args]);
        assert.notEqual(r.code, 0, `helm template accepted ${JSON.stringify(mistake)}`);
        assert.match(r.err, /values don't meet the specifications of the schema\(s\)/);
        assert.match(r.err, expected);
      } finally { rmSync(dir, { recursive: true, force: true }); }
    });
  }

  test('values schema: every value its enums allow renders, and the proxy loads the resulting config', () => {
    tools();
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Obj;
    const enums: Array<[string, unknown[]]> = [];
    const walk = (s: Obj, path: string) => {
      if (s.enum) enums.push([path, s.enum as unknown[]]);
      for (const x of (s.anyOf ?? []) as Obj[]) walk(x, path);
      for (const [k, x] of Object.entries((s.properties ?? {}) as Obj)) walk(x, path ? `${path}.${k}` : k);
      // List items (audit.rules.routes[].match.category) cannot be set one key at a time; rules.ts is their check.
    };
    walk(schema, '');
    const paths = enums.map(([p]) => p);
    for (const p of ['listeners.securityProtocol', 'listeners.proxyProtocol', 'audit.sink', 'audit.failMode', 'audit.writeAhead', 'audit.sasl.mechanism', 'logLevel', 'spool.fsync',
      'audit.rules.categories.produce', 'service.type']) assert.ok(paths.includes(p), `no enum for ${p}`);
    let renders = 0;
    for (const [path, allowed] of enums) {
      for (const value of allowed) {
        const docs = render(['--set', 'audit.sasl.existingSecret=audit-credentials', '--set-string', `${path}=${String(value)}`]);
        const { config } = podConfig(docs);
        renders++;
        const proxyKey: Record<string, unknown> = {
          'listeners.securityProtocol': config.listen.securityProtocol, 'listeners.proxyProtocol': config.listen.proxyProtocol,
          'audit.sink': config.audit.sink, 'audit.failMode': config.audit.failMode, 'audit.writeAhead': config.audit.writeAhead,
          'audit.sasl.mechanism': config.audit.sasl?.mechanism ?? '', logLevel: config.log.level, 'spool.fsync': config.audit.spool.fsync,
        };
        if (path in proxyKey) assert.equal(proxyKey[path], value, `${path}=${String(value)} reaches config.yaml`);
      }
    }
    assert.ok(renders >= 40, `${renders} renderings`);
  });

  test('values schema: the free-form maps take any key', () => {
    tools();
    const docs = render(['--set', 'audit.sasl.existingSecret=audit-credentials', '--set', 'config.limits.maxConnectionsPerAddress=500',
      '--set', 'podAnnotations.example\\.com/team=audit', '--set', 'podLabels.team=audit', '--set', 'nodeSelector.disktype=ssd',
      '--set', 'resources.limits.ephemeral-storage=1Gi', '--set', 'service.annotations.example\\.com/any=x', '--set', 'global.anything=1']);
    const { config, sts } = podConfig(docs);
    assert.equal(config.limits.maxConnectionsPerAddress, 500);
    assert.equal(sts.spec.template.metadata.annotations['example.com/team'], 'audit');
    assert.equal(sts.spec.template.spec.nodeSelector.disktype, 'ssd');
    assert.equal(sts.spec.template.spec.containers[0].resources.limits['ephemeral-storage'], '1Gi');
  });
});
