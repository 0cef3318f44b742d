/**
 * franz-go as a client (issue #15): the Go program in test/clients/franz-go (built by scripts/setup.sh into
 * .tools/franz-go/) logs in through the proxy with SASL PLAIN or SCRAM-SHA-256 and runs one operation per process,
 * each with a client id of its own: kadm creates a topic, the client produces records, consumes them back in a consumer
 * group, kadm alters a topic config (IncrementalAlterConfigs), alice (no ACLs) tries to create a topic, and kadm
 * deletes the topic. Each step is checked on the brokers' side through the PLAINTEXT listener (ANONYMOUS is a super
 * user), then the audit topic holds exactly one event per operation and resource, and one authentication event per
 * login the client began, each naming the principal, the client id and franz-go's software name ("kgo", which
 * franz-go sends in ApiVersions v3+) with the broker's result.
 *
 * franz-go opens every connection with ApiVersions v5, above the versions the proxy's schemas know (v0-v4): the proxy
 * answers it itself, as a broker answers a version it does not support (UNSUPPORTED_VERSION in a v0 body naming
 * ApiVersions' own range), the client retries at v4, which the proxy decodes and caps. The program reports the
 * ApiVersions versions it issued; the proxy's kafka_proxy_requests_total{api="ApiVersions",version="5"} counts the v5
 * requests it answered, and its log has no "forwarded without decoding" warning for ApiVersions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { startAuditedApp, eventsFor, type AuditedApp } from '../harness/audited-app.js';
import { metricValue } from '../harness/proxy.js';
import { waitFor } from '../harness/clients.js';
import { assertNoSecret } from '../harness/secrets.js';
import type { AuditEvent } from '../../src/audit/event.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const SRC = join(REPO, 'test', 'clients', 'franz-go');
const OUT = join(REPO, '.tools', 'franz-go');
const BIN = join(OUT, 'franz-go-client');
/** The franz-go version of go.mod: franz-go sends it as its software version. */
const FRANZ_GO_VERSION = 'v1.22.3';

type Mechanism = 'PLAIN' | 'SCRAM-SHA-256';
interface Login { user: string; password: string; mechanism: Mechanism }
const ADMIN_SCRAM: Login = { user: 'admin', password: 'admin-secret', mechanism: 'SCRAM-SHA-256' };
const ADMIN_PLAIN: Login = { user: 'admin', password: 'admin-secret', mechanism: 'PLAIN' };
const ALICE: Login = { user: 'alice', password: 'alice-secret', mechanism: 'PLAIN' }; // no ACLs at all

interface GoRun {
  op: string;
  clientId: string;
  ok: boolean;
  value?: any;
  error?: { name: string; code: number; message: string };
  apiVersionsSent: number[];
  logins: number;
  elapsedMs: number;
  login: Login;
  stderr: string;
  /** When the process was started and when it exited (Date.now()). */
  startedAt: number;
  endedAt: number;
}

/** The SHA-256 scripts/setup.sh keeps next to the binary: of go.mod, go.sum and main.go, concatenated. */
function sourcesSum(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) h.update(readFileSync(join(SRC, f)));
  return h.digest('hex');
}

/** The binary scripts/setup.sh builds; built here (as setup does) when missing or older than its sources. */
async function ensureBinary(): Promise<void> {
  const sum = sourcesSum();
  const sumFile = join(OUT, 'sources.sha256');
  if (existsSync(BIN) && existsSync(sumFile) && readFileSync(sumFile, 'utf8').trim() === sum) return;
  const go = ['/usr/local/go/bin/go', '/usr/bin/go'].find((p) => existsSync(p)) ?? 'go';
  mkdirSync(OUT, { recursive: true });
  rmSync(sumFile, { force: true });
  await new Promise<void>((res, rej) => execFile(go, ['build', '-trimpath', '-o', BIN, '.'], { cwd: SRC, timeout: 600_000 },
    (err, _o, stderr) => (err ? rej(new Error(`go build of ${SRC} failed (scripts/setup.sh builds it): ${stderr || err.message}`)) : res())));
  writeFileSync(sumFile, `${sum}\n`);
}

describe('franz-go through the proxy: admin, produce, consume in a group, ApiVersions v5 answered by the proxy', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;
  let broker: Admin;
  let events: AuditEvent[] = [];
  let chainOk = false;
  let chainProblems = '';
  let apiVersionsV5 = 0;
  let apiVersionsV4 = 0;
  let undecodableApiVersions = 0;
  const runs: GoRun[] = [];
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const topic = `franz-${tag}`;
  const aliceTopic = `franz-alice-${tag}`;
  const group = `franz-group-${tag}`;
  const RECORDS = 20;
  const steps: Record<string, GoRun> = {};
  const problems: string[] = [];

  function run(op: string, login: Login, args: string[] = []): Promise<GoRun> {
    const clientId = `franz-${runs.length}-${op}-${tag}`;
    const startedAt = Date.now();
    return new Promise((res, rej) => {
      execFile(BIN, [
        '-bootstrap', proxy.bootstrap, '-user', login.user, '-password', login.password, '-mechanism', login.mechanism,
        '-op', op, '-client-id', clientId, ...args,
      ], { timeout: 150_000 }, (err, stdout, stderr) => {
        if (err && !stdout) { rej(new Error(`franz-go ${op}: ${err.message}\n${stderr}`)); return; }
        try {
          const r = { ...JSON.parse(stdout), login, stderr, startedAt, endedAt: Date.now() } as GoRun;
          runs.push(r);
          res(r);
        } catch (e) { rej(new Error(`franz-go ${op}: not JSON (${(e as Error).message}): ${stdout}\n${stderr}`)); }
      });
    });
  }
  /** A step's check on the brokers' side; a failure is kept and reported by its test, so later steps still run. */
  async function check(what: string, fn: () => Promise<void>): Promise<void> {
    try { await fn(); } catch (e) { problems.push(`${what}: ${(e as Error).message}`); }
  }

  before(async () => {
    await ensureBinary();
    ({ cluster, release } = await useCluster(3));
    broker = new Kafka({ clientId: 'franz-broker-check', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await broker.connect();
    proxy = await startAuditedApp(cluster);

    steps.create = await run('create', ADMIN_SCRAM, ['-topic', topic, '-partitions', '3', '-rf', '2']);
    await check('created', async () => {
      // The broker kafkajs asks may not have applied the controller's records yet: retried until it has.
      await waitFor(async () => {
        const md = await broker.fetchTopicMetadata({ topics: [topic] });
        assert.equal(md.topics[0].partitions.length, 3, 'partitions');
        assert.ok(md.topics[0].partitions.every((p) => p.replicas.length === 2), 'replication factor 2');
        return true;
      }, 30_000, `${topic} with 3 partitions of 2 replicas`);
    });

    steps.produce = await run('produce', ADMIN_PLAIN, ['-topic', topic, '-records', String(RECORDS)]);
    await check('produced', async () => {
      const offsets = await broker.fetchTopicOffsets(topic);
      assert.equal(offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0), RECORDS, 'records on the brokers');
    });

    steps.consume = await run('consume', ADMIN_SCRAM, ['-topic', topic, '-records', String(RECORDS), '-group', group]);
    await check('consumed', async () => {
      const [committed] = await broker.fetchOffsets({ groupId: group, topics: [topic] });
      assert.equal(committed.partitions.reduce((s, p) => s + Number(p.offset), 0), RECORDS, "the group's committed offsets");
    });

    steps.alter = await run('alter-config', ADMIN_SCRAM, ['-topic', topic, '-config-name', 'retention.ms', '-config-value', '3600000']);
    await check('altered', async () => {
      // As above: the broker asked may not have applied the change yet.
      await waitFor(async () => {
        const cfg = await broker.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false });
        const entry = cfg.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
        return entry?.configValue === '3600000' && !entry.isDefault;
      }, 30_000, 'retention.ms=3600000 on the brokers');
    });

    steps.aliceCreate = await run('create', ALICE, ['-topic', aliceTopic, '-partitions', '1', '-rf', '1']);
    await check('alice denied', async () => {
      assert.equal((await broker.listTopics()).includes(aliceTopic), false, `${aliceTopic} must not exist`);
    });

    steps.delete = await run('delete', ADMIN_PLAIN, ['-topic', topic]);
    await check('deleted', async () => {
      await waitFor(async () => !(await broker.listTopics()).includes(topic), 30_000, `${topic} gone`);
    });

    const metrics = proxy.app.metrics;
    apiVersionsV5 = await metricValue(metrics, 'kafka_proxy_requests_total', { api: 'ApiVersions', version: '5' });
    apiVersionsV4 = await metricValue(metrics, 'kafka_proxy_requests_total', { api: 'ApiVersions', version: '4' });
    undecodableApiVersions = await metricValue(metrics, 'kafka_proxy_undecodable_frames_total', { api: 'ApiVersions' });
    const report = await proxy.stopAndRead();
    chainOk = report.ok;
    chainProblems = JSON.stringify(report.chain.problems);
    events = report.eventsRead;
  });
  after(async () => {
    await proxy?.stop();
    await broker?.disconnect();
    await release?.();
  });

  test('every operation did what it should, from franz-go and on the brokers', () => {
    const summary = runs.map((r) => `${r.op} as ${r.login.user}: ${r.ok ? 'ok' : JSON.stringify(r.error)}${r.stderr ? ` (stderr: ${r.stderr.trim()})` : ''}`).join('\n');
    for (const k of ['create', 'produce', 'consume', 'alter', 'delete']) assert.equal(steps[k].ok, true, `${k}\n${summary}`);
    assert.equal(steps.produce.value.produced, RECORDS);
    assert.equal(steps.consume.value.consumed, RECORDS, 'records consumed = produced');
    assert.deepEqual(steps.consume.value.values, Array.from({ length: RECORDS }, (_, i) => `v-${i}`).sort(), 'the values produced, each once');
    assert.equal(steps.aliceCreate.ok, false);
    assert.equal(steps.aliceCreate.error?.name, 'TOPIC_AUTHORIZATION_FAILED');
    assert.equal(steps.aliceCreate.error?.code, 29);
    assert.deepEqual(problems, [], 'brokers-side checks');
  });

  test('franz-go opened with ApiVersions v5; the proxy answered it and the client went on at v4', (t) => {
    t.diagnostic(`${runs.length} franz-go runs (${runs.map((r) => `${r.op} ${r.elapsedMs} ms`).join(', ')}); ApiVersions v5 answered by the proxy: `
      + `${apiVersionsV5}, v4 forwarded: ${apiVersionsV4}; logins: ${runs.reduce((s, r) => s + r.logins, 0)}; audit events read: ${events.length}`);
    for (const r of runs) {
      assert.equal(r.apiVersionsSent[0], 5, `${r.clientId}: the first ApiVersions is v5 (${r.apiVersionsSent})`);
      assert.ok(r.apiVersionsSent.every((v) => v === 5 || v === 4), `${r.clientId}: only v5 then v4 (${r.apiVersionsSent})`);
      assert.ok(r.apiVersionsSent.includes(4), `${r.clientId}: retried at v4 (${r.apiVersionsSent})`);
    }
    const sentV5 = runs.reduce((s, r) => s + r.apiVersionsSent.filter((v) => v === 5).length, 0);
    const sentV4 = runs.reduce((s, r) => s + r.apiVersionsSent.filter((v) => v === 4).length, 0);
    assert.equal(apiVersionsV5, sentV5, 'kafka_proxy_requests_total{api="ApiVersions",version="5"}: every v5 franz-go sent');
    assert.equal(apiVersionsV4, sentV4, 'kafka_proxy_requests_total{api="ApiVersions",version="4"}');
    assert.equal(undecodableApiVersions, 0, 'kafka_proxy_undecodable_frames_total{api="ApiVersions"}');
    const warnings = proxy.logLines.map((l) => JSON.parse(l) as { level: number; msg: string; api?: string })
      .filter((l) => l.api === 'ApiVersions' && (/without decoding/.test(l.msg) || l.level >= 40));
    assert.deepEqual(warnings, [], 'no warning about ApiVersions in the proxy log');
    const answered = proxy.logLines.filter((l) => l.includes('ApiVersions above the known versions answered with UNSUPPORTED_VERSION')).length;
    assert.equal(answered, sentV5, 'one "answered with UNSUPPORTED_VERSION" debug line per v5 request');
  });

  test('exactly one audit event per operation and resource, with the principal, client software and result', () => {
    assert.equal(chainOk, true, chainProblems);
    const byClient = (r: GoRun) => events.filter((e) => e.data.request?.client_id === r.clientId && e.type !== 'io.confluent.kafka.server/authentication');
    const describe = (es: AuditEvent[]) => es.map((e) => `${e.data.methodName} ${e.data.authorizationInfo?.resourceType}:${e.data.authorizationInfo?.resourceName} ${e.data.result?.status}`);
    const expect: [GoRun, string, string, 'SUCCESS' | 'UNAUTHORIZED', string, number][] = [
      [steps.create, 'CreateTopics', topic, 'SUCCESS', 'NONE', 0],
      [steps.alter, 'IncrementalAlterConfigs', topic, 'SUCCESS', 'NONE', 0],
      [steps.aliceCreate, 'CreateTopics', aliceTopic, 'UNAUTHORIZED', 'TOPIC_AUTHORIZATION_FAILED', 29],
      [steps.delete, 'DeleteTopics', topic, 'SUCCESS', 'NONE', 0],
    ];
    for (const [r, method, name, status, errorName, errorCode] of expect) {
      const mine = byClient(r);
      assert.deepEqual(describe(mine), [`kafka.${method} Topic:${name} ${status}`], `${r.clientId}: its events`);
      assert.equal(eventsFor(events, method, name).length, 1, `${method} ${name}: one event in the whole topic`);
      const d = mine[0].data;
      assert.equal(d.authenticationInfo?.principal, `User:${r.login.user}`, method);
      assert.equal(d.authorizationInfo?.granted, status === 'SUCCESS', method);
      assert.equal(d.result?.status, status, method);
      assert.equal(d.result?.errorCode ?? 0, errorCode, method);
      assert.equal(d.result?.errorName, errorName, method);
      assert.equal(d.clientInfo?.softwareName, 'kgo', `${method}: franz-go's software name from ApiVersions`);
      assert.equal(d.clientInfo?.softwareVersion, FRANZ_GO_VERSION, method);
      assert.match(d.requestMetadata?.client_address ?? '', /^127\.0\.0\.1:\d+$/);
      if (method === 'IncrementalAlterConfigs') assert.match(JSON.stringify(d.details ?? {}), /retention\.ms/, 'the config named in details');
    }
    for (const r of [steps.produce, steps.consume]) {
      assert.deepEqual(describe(byClient(r)), [], `${r.clientId}: produce, fetch and group traffic give no event by default`);
    }
    assert.equal(eventsFor(events, 'CreateTopics', topic).length + eventsFor(events, 'DeleteTopics', topic).length, 2);
  });

  test('one authentication event per login franz-go began, naming the user, mechanism and client software', () => {
    // Authentication events carry no client id (src/proxy/interceptors/sasl.ts records none): the runs are one after
    // the other and only they log in through this proxy, so a run's logins are those of its time window.
    const logins = events.filter((e) => e.type === 'io.confluent.kafka.server/authentication');
    assert.equal(logins.length, runs.reduce((s, r) => s + r.logins, 0), 'as many authentication events as logins');
    for (const r of runs) {
      const mine = logins.filter((e) => Date.parse(e.time) >= r.startedAt && Date.parse(e.time) <= r.endedAt);
      assert.ok(r.logins >= 1, `${r.clientId}: logged in`);
      assert.equal(mine.length, r.logins, `${r.clientId}: ${mine.length} authentication events for ${r.logins} logins; `
        + `all authentication events: ${JSON.stringify(logins.map((e) => ({ ...e.data, serviceName: undefined, resourceName: undefined })))}`);
      for (const e of mine) {
        assert.equal(e.data.methodName, 'kafka.Authentication');
        assert.equal(e.data.authenticationInfo?.principal, `User:${r.login.user}`, r.clientId);
        assert.equal(e.data.authenticationInfo?.metadata?.mechanism, `SASL_PLAINTEXT/${r.login.mechanism}`, r.clientId);
        assert.equal(e.data.authenticationInfo?.metadata?.identifier, r.login.user, r.clientId);
        assert.equal(e.data.details?.mechanism, r.login.mechanism, r.clientId);
        assert.equal(e.data.result?.status, 'SUCCESS', r.clientId);
        assert.equal(e.data.result?.errorName, 'NONE', r.clientId);
        assert.equal(e.data.clientInfo?.softwareName, 'kgo', r.clientId);
        assert.equal(e.data.clientInfo?.softwareVersion, FRANZ_GO_VERSION, r.clientId);
      }
    }
    assert.deepEqual(new Set(runs.map((r) => r.login.mechanism)), new Set(['PLAIN', 'SCRAM-SHA-256']), 'both mechanisms');
    assertNoSecret(JSON.stringify(events), ['admin-secret', 'alice-secret'], 'the audit events');
    assertNoSecret(proxy.logLines.join('\n'), ['admin-secret', 'alice-secret'], "the proxy's log");
  });
});
