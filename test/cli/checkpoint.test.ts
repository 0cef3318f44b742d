/**
 * Signed checkpoints end to end: the real CLI (`start`, `checkpoint-key`, `verify --public-key`) against a real
 * cluster, and an attacker (this test) with write access to the audit topic.
 *
 * - Forgery: after a clean stop, the attacker appends a well-formed continuation of the chain (hashes recomputed):
 *   `verify` without keys still says OK (and that it checked hashes only); with the public key it fails, naming
 *   the forged events.
 * - Truncation: the proxy is SIGKILLed right after its newest events reached the topic, before a checkpoint covered
 *   them: verify (after intervalMs + idleIntervalMs + margin) reports them uncovered and a truncation window.
 * - Key rotation: a run signed with key 1, then a run on the same chain signed with key 2: verify passes with both
 *   public keys and names the old key unknown with the new one alone. The checkpoints are also copied to a second
 *   topic (audit.checkpoint.topic), which verify --checkpoint-topic reads too.
 * Also: the public key and fingerprint in proxy.Started match `checkpoint-key`, the generated private key file is
 * 0600, and the private key appears in no log line and no event.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { stringify as toYaml } from 'yaml';
import { useCluster } from '../harness/shared-cluster.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { proxyPorts } from '../admin/ports.js';
import { eventHash } from '../../src/audit/chain.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { readCheckpoint } from '../../src/audit/checkpoint.js';
import { verifyTopic } from '../../src/audit/verify.js';

const { Kafka, logLevel } = kafkajs;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHECKPOINT_TYPE = 'io.kafkaauditproxy/checkpoint';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KAP_')) env[k] = v;
  return env;
}

interface CliResult { code: number | null; stdout: string; stderr: string }

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: no exit after 90 s\n${stdout}\n${stderr}`)); }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, stdout, stderr }); });
  });
}

/** `kafka-audit-proxy start`, running. */
class Proxy {
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(configFile: string) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '-c', configFile], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((r) => this.child.on('close', (code, signal) => r({ code, signal })));
  }
  async ready(port: number): Promise<void> {
    const end = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`proxy exited (${this.child.exitCode}):\n${this.stderr}`);
      const ok = await new Promise<boolean>((r) => { const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
      if (ok) return;
      if (Date.now() > end) throw new Error(`proxy not listening on ${port}:\n${this.stderr}`);
      await sleep(200);
    }
  }
}

describe('signed checkpoints against a real cluster', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let dir: string;
  let kafka: InstanceType<typeof Kafka>;
  const suffix = randomBytes(4).toString('hex');
  const keys: Record<string, { privateFile: string; publicFile: string; publicPem: string; fingerprint: string }> = {};
  const proxyLogs: string[] = [];

  /** A config file for one scenario: its own audit topic and spool directory. */
  async function scenario(name: string, keyName: string, checkpoint: Record<string, unknown>) {
    const ports = await proxyPorts();
    const topic = `cp-${name}-${suffix}`;
    const write = (key: string) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, toYaml({
        listen: { host: '127.0.0.1', bootstrapPort: ports.bootstrapPort, brokerPortBase: ports.brokerPortBase, advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: cluster.plainBootstrap.split(',') },
        admin: { enabled: false },
        shutdown: { drainTimeoutMs: 2000 },
        log: { level: 'debug' },
        audit: {
          topic, partitions: 1, replicationFactor: 1, brokers: cluster.plainBootstrap.split(','),
          spool: { dir: join(dir, `spool-${name}`), fsync: 'never' }, batch: { maxEvents: 100, lingerMs: 5 },
          checkpoint: { privateKeyFile: keys[key].privateFile, ...checkpoint },
        },
      }));
      return file;
    };
    return { topic, port: ports.bootstrapPort, configFile: write(keyName), useKey: write };
  }

  async function run(configFile: string, port: number, work: () => Promise<void>, stop: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
    const p = new Proxy(configFile);
    try {
      await p.ready(port);
      await work();
    } finally {
      p.child.kill(stop);
      const r = await p.exited;
      proxyLogs.push(p.stderr);
      if (stop === 'SIGTERM') assert.deepEqual(r, { code: 0, signal: null }, p.stderr);
    }
  }

  /** An audited operation through the proxy: a topic creation. */
  async function createTopicVia(port: number): Promise<string> {
    const name = `cp-made-${randomBytes(4).toString('hex')}`;
    const admin = new Kafka({ clientId: 'cp-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try { await admin.createTopics({ waitForLeaders: false, topics: [{ topic: name, numPartitions: 1, replicationFactor: 1 }] }); } finally { await admin.disconnect(); }
    return name;
  }

  const read = async (topic: string) => (await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic, timeoutMs: 30_000 })).eventsRead;
  /** While polling a topic the proxy has just created: its metadata may not have reached every broker yet. */
  const poll = (topic: string) => read(topic).catch(() => [] as AuditEvent[]);
  const checkpointsOf = (events: AuditEvent[]) => events.filter((e) => e.type === CHECKPOINT_TYPE).map((e) => readCheckpoint(e)!.payload);

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    dir = mkdtempSync(join(tmpdir(), 'kap-cp-live-'));
    kafka = new Kafka({ clientId: 'cp-attacker', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING });
    for (const k of ['k1', 'k2']) {
      const privateFile = join(dir, `${k}.pem`);
      const r = await runCli(['checkpoint-key', '--generate', privateFile]);
      assert.equal(r.code, 0, r.stderr);
      const publicPem = r.stdout.slice(0, r.stdout.indexOf('-----END PUBLIC KEY-----') + 24) + '\n';
      const fingerprint = /fingerprint (sha256:[0-9a-f]{64})/.exec(r.stdout)![1];
      const publicFile = join(dir, `${k}.pub.pem`);
      writeFileSync(publicFile, publicPem);
      keys[k] = { privateFile, publicFile, publicPem, fingerprint };
      assert.equal(statSync(privateFile).mode & 0o777, 0o600, 'the private key file is readable by its owner only');
    }
    assert.equal((await runCli(['checkpoint-key', '--generate', keys.k1.privateFile])).code, 1, 'an existing key file is never overwritten');
  });

  after(async () => {
    // The private key appears in no log line of any proxy run.
    for (const k of Object.values(keys)) {
      const body = readFileSync(k.privateFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')).join('');
      for (const l of proxyLogs) assert.ok(!l.includes(body), 'the private key is not in the proxy log');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    await release?.();
  });

  test('forgery: a continuation with recomputed hashes passes the hash check, and verify --public-key names it', async () => {
    const s = await scenario('forge', 'k1', { intervalMs: 1000, idleIntervalMs: 5000 });
    const shown = await runCli(['checkpoint-key', '-c', s.configFile]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.startsWith(keys.k1.publicPem.trimEnd()) && shown.stdout.includes(`fingerprint ${keys.k1.fingerprint}`), shown.stdout);
    await run(s.configFile, s.port, async () => { await createTopicVia(s.port); });
    const events = await read(s.topic);
    const started = events.find((e) => e.data.methodName === 'proxy.Started')!;
    const d = started.data.details as { checkpoints?: { fingerprint: string; publicKey: string } };
    assert.deepEqual([d.checkpoints?.fingerprint, d.checkpoints?.publicKey], [keys.k1.fingerprint, keys.k1.publicPem], 'proxy.Started names the public key');
    const cps = checkpointsOf(events);
    assert.equal(cps.at(-1)?.reason, 'stop');
    const body = readFileSync(keys.k1.privateFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    assert.ok(!JSON.stringify(events).includes(body), 'the private key is in no event');

    const good = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic, '--public-key', keys.k1.publicFile]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /OK: every chain is intact and covered by valid signed checkpoints/);

    // The attacker: two events continuing the chain after proxy.Stopped, hashes recomputed, same key (partition).
    const chain = events.filter((e) => e.type !== CHECKPOINT_TYPE);
    let prev = chain.at(-1)!;
    const forged: AuditEvent[] = [];
    for (let i = 0; i < 2; i++) {
      const e = JSON.parse(JSON.stringify(chain.find((x) => x.data.methodName === 'kafka.CreateTopics')!)) as AuditEvent;
      e.id = randomUUID();
      e.time = new Date().toISOString();
      e.auditseq = prev.auditseq! + 1;
      e.auditprevhash = prev.audithash;
      delete e.audithash;
      e.audithash = eventHash(e);
      forged.push(e);
      prev = e;
    }
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: s.topic, acks: -1, messages: forged.map((e) => ({ key: e.auditinstance!, value: JSON.stringify(e) })) });
    await producer.disconnect();

    const blind = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic]);
    assert.equal(blind.code, 0, 'the hash chain alone accepts the continuation');
    assert.match(blind.stdout, /checked hashes only \(no --public-key\)/);
    const caught = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic, '--public-key', keys.k1.publicFile]);
    assert.equal(caught.code, 1, caught.stdout + caught.stderr);
    assert.match(caught.stdout, new RegExp(`PROBLEM forged: .*seq ${forged[0].auditseq}.*follow the instance's final checkpoint.*${forged[0].id}, ${forged[1].id}`));
    process.stderr.write(`forgery: ${caught.stdout.split('\n').filter((l) => l.includes('PROBLEM')).join('\n')}\n`);
  });

  test('truncation: SIGKILL before the newest events are covered; after intervalMs + idleIntervalMs + margin verify reports them', async () => {
    const s = await scenario('kill', 'k1', { intervalMs: 4000, idleIntervalMs: 4000 });
    let created = '';
    await run(s.configFile, s.port, async () => {
      // The first checkpoint (covering proxy.Started) is on the topic before the audited operation.
      const end = Date.now() + 30_000;
      while (checkpointsOf(await poll(s.topic)).length === 0) { assert.ok(Date.now() < end, 'a first checkpoint'); await sleep(300); }
      created = await createTopicVia(s.port);
      // Killed as soon as its event is on the topic: well before intervalMs (4 s) has passed.
      while (!(await poll(s.topic)).some((e) => (e.data as { authorizationInfo?: { resourceName?: string } }).authorizationInfo?.resourceName === created)) {
        assert.ok(Date.now() < end, 'the event reaches the topic');
        await sleep(50);
      }
    }, 'SIGKILL');
    const events = await read(s.topic);
    const event = events.find((e) => (e.data as { authorizationInfo?: { resourceName?: string } }).authorizationInfo?.resourceName === created)!;
    const cps = checkpointsOf(events);
    const newest = cps.at(-1)!;
    assert.ok(newest.seq < event.auditseq!, `killed before a checkpoint covered seq ${event.auditseq} (newest covers ${newest.seq})`);
    const margin = 1000;
    const dueAt = Date.parse(newest.time) + newest.intervalMs + newest.idleIntervalMs + margin;
    if (Date.now() < dueAt - 2000) {
      const early = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic, '--public-key', keys.k1.publicFile, '--margin', String(margin)]);
      assert.equal(early.code, 0, early.stdout);
      assert.match(early.stdout, /pending \(the running instance has not signed them yet\)/);
    }
    await sleep(Math.max(0, dueAt - Date.now() + 500));
    const r = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic, '--public-key', keys.k1.publicFile, '--margin', String(margin)]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`PROBLEM uncovered: .*seq ${event.auditseq}.*not covered by a valid checkpoint.*${event.id}`));
    assert.match(r.stdout, /PROBLEM truncation: .*is \d+ s old, and the instance is not known to have stopped/);
    process.stderr.write(`truncation: ${r.stdout.split('\n').filter((l) => l.includes('PROBLEM')).join('\n')}\n`);
  });

  test('key rotation: checkpoints of key 1 and then key 2 on one chain verify with both public keys', async () => {
    const mirror = `cp-mirror-${suffix}`;
    const s = await scenario('rotate', 'k1', { intervalMs: 1000, idleIntervalMs: 5000, topic: mirror });
    await run(s.configFile, s.port, async () => { await createTopicVia(s.port); });
    s.useKey('k2');
    await run(s.configFile, s.port, async () => { await createTopicVia(s.port); });
    const cps = checkpointsOf(await read(s.topic));
    assert.deepEqual([...new Set(cps.map((c) => c.keyId))], [keys.k1.fingerprint, keys.k2.fingerprint]);
    // audit.checkpoint.topic holds a copy of every checkpoint; verify reads both and counts each checkpoint once.
    const mirrored = checkpointsOf(await read(mirror));
    assert.deepEqual(mirrored, cps, 'the mirror topic holds the same checkpoints');
    const both = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic, '--public-key', keys.k1.publicFile, '--public-key', keys.k2.publicFile, '--checkpoint-topic', mirror, '--json']);
    assert.equal(both.code, 0, both.stdout + both.stderr);
    const report = JSON.parse(both.stdout) as { checkpoints: { validCheckpoints: number; problems: unknown[]; chains: Array<{ coveredSeq: number; lastSeq: number }> } };
    assert.equal(report.checkpoints.validCheckpoints, cps.length);
    assert.deepEqual(report.checkpoints.chains.map((c) => c.coveredSeq), report.checkpoints.chains.map((c) => c.lastSeq));
    const newOnly = await runCli(['verify', '-b', cluster.plainBootstrap, '-t', s.topic, '--public-key', keys.k2.publicFile]);
    assert.equal(newOnly.code, 1);
    assert.match(newOnly.stdout, new RegExp(`PROBLEM unknown-key: .*signed with key ${keys.k1.fingerprint}, which is not among the public keys given`));
  });
});
