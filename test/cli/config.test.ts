/**
 * Configuration as an operator writes it, without a cluster: KAP_* environment overrides (how a Kubernetes
 * Secret reaches audit.sasl.password), precedence file < env < flags, the error messages for bad values, the
 * example configuration (deploy/config.example.yaml) and the Kubernetes manifests in deploy/kubernetes, whose
 * config.yaml and env names must load with the real loadConfig.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ConfigError, DEFAULTS, envOverrides, loadConfig } from '../../src/config.js';
import { auditRulesConfig } from '../../src/app.js';
import { assertNoSecret } from '../harness/secrets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function withFile<T>(text: string, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'kap-config-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, text);
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('KAP_* environment overrides', () => {
  test('section + key in upper snake case; nested keys joined with a double underscore', () => {
    const c = loadConfig({
      env: {
        KAP_LISTEN_BOOTSTRAP_PORT: '19092', KAP_LISTEN_BROKER_PORT_BASE: '19100', KAP_LISTEN_ADVERTISED_HOST: 'kap.example.com',
        KAP_UPSTREAM_BOOTSTRAP_SERVERS: 'b1:9092,b2:9092', KAP_UPSTREAM_CONNECT_TIMEOUT_MS: '5000',
        KAP_LIMITS_MAX_CONNECTIONS: '100', KAP_ADMIN_HOST: '0.0.0.0', KAP_ADMIN_ENABLED: 'true',
        KAP_SHUTDOWN_DRAIN_TIMEOUT_MS: '30000', KAP_LOG_LEVEL: 'debug',
        KAP_AUDIT_TOPIC: 'audit-events', KAP_AUDIT_FAIL_MODE: 'closed', KAP_AUDIT_CLUSTER_ID: 'lkc-1',
        KAP_AUDIT_SPOOL__DIR: '/var/lib/kap', KAP_AUDIT_SPOOL__MAX_BYTES: '1048576', KAP_AUDIT_SPOOL__FSYNC: '250',
        KAP_AUDIT_BATCH__LINGER_MS: '50',
        KAP_AUDIT_SASL__MECHANISM: 'scram-sha-512', KAP_AUDIT_SASL__USERNAME: 'audit-proxy', KAP_AUDIT_SASL__PASSWORD: 'from-a-secret',
        KAP_AUDIT_RULES__CATEGORIES__PRODUCE: 'first-per-connection',
        PATH: '/usr/bin', // other variables are ignored
      },
    });
    assert.equal(c.listen.bootstrapPort, 19092);
    assert.equal(c.listen.brokerPortBase, 19100);
    assert.equal(c.listen.advertisedHost, 'kap.example.com');
    assert.deepEqual(c.upstream.bootstrapServers, ['b1:9092', 'b2:9092']);
    assert.equal(c.upstream.connectTimeoutMs, 5000);
    assert.equal(c.limits.maxConnections, 100);
    assert.equal(c.admin.host, '0.0.0.0');
    assert.equal(c.admin.enabled, true);
    assert.equal(c.shutdown.drainTimeoutMs, 30000);
    assert.equal(c.log.level, 'debug');
    assert.equal(c.audit.topic, 'audit-events');
    assert.equal(c.audit.failMode, 'closed');
    assert.equal(c.audit.clusterId, 'lkc-1');
    assert.deepEqual(c.audit.spool, { dir: '/var/lib/kap', maxBytes: 1048576, fsync: 250 });
    assert.equal(c.audit.batch.lingerMs, 50);
    assert.deepEqual(c.audit.sasl, { mechanism: 'scram-sha-512', username: 'audit-proxy', password: 'from-a-secret' });
    assert.equal(auditRulesConfig(c.audit).categories.produce, 'first-per-connection');
  });

  test('values keep the type of the setting: a numeric password or topic stays a string, one bootstrap server is a list', () => {
    const c = loadConfig({
      env: {
        KAP_AUDIT_SASL__USERNAME: '1000', KAP_AUDIT_SASL__PASSWORD: '123456', KAP_AUDIT_SASL__MECHANISM: 'plain',
        KAP_AUDIT_TOPIC: '2024', KAP_AUDIT_CLUSTER_ID: '42', KAP_UPSTREAM_BOOTSTRAP_SERVERS: 'kafka-0.kafka:9092',
        KAP_AUDIT_BROKERS: 'audit-kafka:9093', KAP_AUDIT_SPOOL__FSYNC: 'never',
      },
    });
    assert.deepEqual(c.audit.sasl, { mechanism: 'plain', username: '1000', password: '123456' });
    assert.equal(c.audit.topic, '2024');
    assert.equal(c.audit.clusterId, '42');
    assert.deepEqual(c.upstream.bootstrapServers, ['kafka-0.kafka:9092']);
    assert.deepEqual(c.audit.brokers, ['audit-kafka:9093']);
    assert.equal(c.audit.spool.fsync, 'never');
  });

  test('the password from the environment completes audit.sasl from the file (mappings merge, also in open sections)', () => {
    withFile('audit:\n  sasl:\n    mechanism: scram-sha-512\n    username: audit-proxy\n  rules:\n    categories:\n      describe: on\n', (file) => {
      const c = loadConfig({ file, env: { KAP_AUDIT_SASL__PASSWORD: 'from-a-secret', KAP_AUDIT_RULES__CATEGORIES__PRODUCE: 'on' } });
      assert.deepEqual(c.audit.sasl, { mechanism: 'scram-sha-512', username: 'audit-proxy', password: 'from-a-secret' });
      const rules = auditRulesConfig(c.audit);
      assert.equal(rules.categories.describe, true, 'the file\'s rule kept');
      assert.equal(rules.categories.produce, 'on', 'the environment\'s rule added');
      assert.throws(() => loadConfig({ file, env: {} }), /audit\.sasl: must be an object with username and password/, 'without the password: named, and not echoed');
    });
  });

  test('precedence: defaults < file < environment < flag overrides', () => {
    withFile('listen:\n  bootstrapPort: 1111\n  brokerPortBase: 1200\nadmin:\n  port: 1099\n', (file) => {
      const c = loadConfig({ file, env: { KAP_LISTEN_BOOTSTRAP_PORT: '2222', KAP_ADMIN_PORT: '2099' }, overrides: { admin: { port: 3099 } } });
      assert.equal(c.listen.brokerPortBase, 1200, 'file over default');
      assert.equal(c.listen.bootstrapPort, 2222, 'env over file');
      assert.equal(c.admin.port, 3099, 'flag over env');
      assert.equal(c.listen.advertisedHost, DEFAULTS.listen.advertisedHost, 'default kept');
    });
  });

  test('mistakes name the variable or key and what is expected', () => {
    const throwsConfig = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => {
      assert.ok(e instanceof ConfigError, `a ConfigError, not ${e.name}: ${e.message}`);
      assert.match(e.message, re);
      return true;
    });
    throwsConfig(() => envOverrides({ KAP_LISTN_PORT: '1' }), /^KAP_LISTN_PORT: unknown environment override .*sections: listen, upstream/);
    throwsConfig(() => loadConfig({ env: { KAP_LISTEN_BOOTSTRAP_PROT: '1' } }), /^listen\.bootstrapProt: unknown setting \(known here: host, bootstrapPort/);
    throwsConfig(() => loadConfig({ env: { KAP_LISTEN_BOOTSTRAP_PORT: 'abc' } }), /^listen\.bootstrapPort: must be a port number 0-65535 \(got "abc"\)$/);
    throwsConfig(() => loadConfig({ env: { KAP_AUDIT_SASL__MECHANISM: 'gssapi', KAP_AUDIT_SASL__USERNAME: 'u', KAP_AUDIT_SASL__PASSWORD: 'p' } }), /^audit\.sasl\.mechanism: must be plain, scram-sha-256 or scram-sha-512/);
    // Secrets are never echoed in a message, in any encoding (test/harness/secrets.ts), whatever is wrong around them.
    const secret = 'env-pa55word-never-echoed';
    for (const env of [
      { KAP_AUDIT_SASL__MECHANISM: 'gssapi', KAP_AUDIT_SASL__USERNAME: 'u', KAP_AUDIT_SASL__PASSWORD: secret },
      { KAP_AUDIT_SASL__MECHANISM: 'plain', KAP_AUDIT_SASL__PASSWORD: secret },
      { KAP_BROWSER_ENABLED: 'true', KAP_ADMIN_HOST: '0.0.0.0', KAP_BROWSER_AUTH__BASIC_AUTH__USERNAME: 'ops:x', KAP_BROWSER_AUTH__BASIC_AUTH__PASSWORD: secret },
    ]) {
      assert.throws(() => loadConfig({ env }), (e: Error) => {
        assert.ok(e instanceof ConfigError, `a ConfigError, not ${e.name}: ${e.message}`);
        assertNoSecret(`${e.message}\n${e.stack}`, { 'the password': secret }, `the message for ${Object.keys(env).join(', ')}`);
        return true;
      });
    }
    throwsConfig(() => loadConfig({ env: { KAP_AUDIT_RULES__CATEGORIES__PRODUCE: 'sometimes' } }), /^audit\.rules\.categories\.produce: must be one of off, on, first-per-connection \(got "sometimes"\)$/);
  });
});

describe('audit.topic and audit.rules.defaultTopic', () => {
  test('events go to audit.topic unless the rules name another default topic', () => {
    assert.equal(auditRulesConfig(loadConfig({ overrides: { audit: { topic: 'my-audit' } } }).audit).defaultTopic, 'my-audit');
    assert.equal(auditRulesConfig(loadConfig({}).audit).defaultTopic, 'confluent-audit-log-events');
    const both = loadConfig({ overrides: { audit: { topic: 'my-audit', rules: { defaultTopic: 'rules-topic' } } } });
    assert.equal(auditRulesConfig(both.audit).defaultTopic, 'rules-topic');
  });
});

describe('deploy/config.example.yaml', () => {
  test('loads with loadConfig and says what the reference says', () => {
    const file = join(ROOT, 'deploy', 'config.example.yaml');
    assert.throws(() => loadConfig({ file, env: {} }), /audit\.sasl: must be an object with username and password/, 'the password is not in the file');
    const c = loadConfig({ file, env: { KAP_AUDIT_SASL__PASSWORD: 'from-the-environment' } });
    assert.deepEqual(c.audit.sasl, { mechanism: 'scram-sha-512', username: 'audit-proxy', password: 'from-the-environment' });
    assert.deepEqual(c.upstream.bootstrapServers, ['kafka-0.kafka:9092', 'kafka-1.kafka:9092', 'kafka-2.kafka:9092']);
    assert.equal(c.listen.host, '0.0.0.0');
    assert.equal(c.admin.host, '0.0.0.0');
    assert.equal(c.audit.spool.dir, '/var/lib/kafka-audit-proxy');
    const rules = auditRulesConfig(c.audit);
    assert.equal(rules.categories.produce, 'first-per-connection');
    assert.ok(rules.routes.length >= 1);
    // Every documented key appears in the reference, and every top-level section in the example.
    const doc = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const keys: string[] = [];
    const walk = (o: Record<string, unknown>, p: string) => {
      for (const [k, v] of Object.entries(o)) {
        const path = p ? `${p}.${k}` : k;
        if (v && typeof v === 'object' && !Array.isArray(v) && path !== 'audit.rules') walk(v as Record<string, unknown>, path); else keys.push(path);
      }
    };
    walk(DEFAULTS as unknown as Record<string, unknown>, '');
    for (const k of [...keys, 'listen.tls', 'upstream.tls', 'upstream.localAddress', 'audit.brokers', 'audit.sasl', 'audit.tls', 'audit.clusterId']) {
      assert.ok(doc.includes('`' + k + '`'), `the README documents ${k}`);
    }
    for (const k of ['categories', 'authorize-denied', 'excludedPrincipals', 'defaultTopic', 'routes', 'dedupe']) assert.ok(doc.includes(k), `the README documents audit.rules ${k}`);
  });
});

describe('deploy/kubernetes manifests', () => {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'kafka-audit-proxy.yaml'), 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, String(d.errors[0]));
    return d.toJS() as Record<string, any>;
  }).filter(Boolean);
  const kind = (k: string) => docs.filter((d) => d.kind === k);

  test('the ConfigMap\'s config.yaml plus the container env (with the Secret\'s values) load with loadConfig', () => {
    const [cm] = kind('ConfigMap');
    const [sts] = kind('StatefulSet');
    const [secret] = kind('Secret');
    assert.ok(cm && sts && secret, 'ConfigMap, StatefulSet and Secret present');
    const container = sts.spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      if (!e.name.startsWith('KAP_')) continue;
      if (e.value !== undefined) env[e.name] = String(e.value);
      else if (e.valueFrom?.secretKeyRef) {
        assert.equal(e.valueFrom.secretKeyRef.name, secret.metadata.name, `${e.name} comes from the Secret`);
        env[e.name] = String(secret.stringData[e.valueFrom.secretKeyRef.key]);
      }
    }
    assert.ok(env.KAP_AUDIT_SASL__PASSWORD, 'the audit password comes from the Secret through KAP_AUDIT_SASL__PASSWORD');
    withFile(cm.data['config.yaml'], (file) => {
      const c = loadConfig({ file, env });
      assert.equal(c.audit.sasl?.password, secret.stringData.password);
      assert.equal(c.audit.sasl?.username, secret.stringData.username);
      assert.equal(c.admin.host, '0.0.0.0', 'probes reach the admin server from outside the pod');
      // Ports in the manifests match the configuration.
      const ports = new Map<string, number>(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
      assert.equal(ports.get('bootstrap'), c.listen.bootstrapPort);
      assert.equal(ports.get('admin'), c.admin.port);
      for (const [name, port] of ports) {
        const m = /^broker-(\d+)$/.exec(name);
        if (m) assert.equal(port, c.listen.brokerPortBase + Number(m[1]), `${name} is brokerPortBase + node id`);
      }
      assert.ok([...ports.keys()].filter((n) => n.startsWith('broker-')).length >= 1);
      assert.equal(container.readinessProbe.httpGet.path, '/readyz');
      assert.equal(container.livenessProbe.httpGet.path, '/healthz');
      assert.equal(container.readinessProbe.httpGet.port, 'admin');
      // The spool is on the volume claimed per pod.
      const mount = container.volumeMounts.find((v: { mountPath: string }) => v.mountPath === c.audit.spool.dir);
      assert.ok(mount, 'audit.spool.dir is a volume mount');
      assert.ok(sts.spec.volumeClaimTemplates.some((t: { metadata: { name: string } }) => t.metadata.name === mount.name), 'backed by a volumeClaimTemplate');
    });
    assert.equal(sts.spec.template.spec.enableServiceLinks, false, 'no Docker-link variables (a Service named "kap" would inject KAP_* variables)');
    const sc = container.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.ok(container.resources.requests && container.resources.limits);
    // Every Service port targets a named container port.
    for (const svc of kind('Service')) {
      for (const p of svc.spec.ports) assert.ok(container.ports.some((c: { name: string }) => c.name === p.targetPort), `${svc.metadata.name}:${p.name} targets a container port`);
    }
  });
});
