/**
 * Real Apache Kafka (KRaft) test clusters, run from the jars that scripts/kafka/fetch.sh puts in .kafka-lib:
 * Kafka 3.9.1 (the default; .kafka-lib/*.jar, reload4j logging) or Kafka 4.1.1 (`{ version: '4.1.1' }`, or env
 * KAP_KAFKA_VERSION=4.1.1; .kafka-lib/4.1.1/*.jar, log4j2 logging). On 4.1 the storage is formatted with
 * `--feature share.version=1`, so share groups (KIP-932, a preview in 4.1) are on; KIP-848 consumer groups
 * (group.protocol=consumer) are on by default in 4.x, next to the classic protocol.
 *
 * Every node is a combined broker+controller (`process.roles=broker,controller`) with a static
 * `controller.quorum.voters` list, all on 127.0.0.1 with ports picked at run time:
 *
 *   PLAINTEXT       client listener. Principal User:ANONYMOUS, which is a super user.
 *   INTERNAL        inter-broker listener (replica fetchers, transaction markers), PLAINTEXT, ANONYMOUS (super user:
 *                   inter-broker traffic is unauthenticated). Kept apart from the client listeners so the only
 *                   connections a client listener accepts are client connections (see no-direct-connections.test.ts).
 *   SASL_PLAINTEXT  PLAIN (JAAS users) + SCRAM-SHA-256/512 (added at format time). Users admin, alice, bob with
 *                   password "<name>-secret". admin is a super user; alice and bob have no ACLs (denied by default).
 *   SSL             only with `{ tls: true }`: PEM server certificate from makeTestCerts(), client auth "requested".
 *   CONTROLLER      KRaft quorum traffic, PLAINTEXT.
 *
 * Authorizer: StandardAuthorizer, allow.everyone.if.no.acl.found=false. auto.create.topics.enable=false.
 *
 * Layout of a run directory:
 *   <runDir>/node-<id>/server.properties, data/, server.log (stdout+stderr of the JVM), format.log
 *   <runDir>/certs/ (with tls)
 *
 * Measured on the 2-core / 23 GiB dev box (Java 17.0.15), idle -> with other Kafka test suites running:
 *   startKafkaCluster 1 node: 2.3-2.5 s -> 4-5 s     (format ~0.4 s, then broker ready ~2 s)
 *   startKafkaCluster 3 nodes: 5.7-7.0 s -> 9-16 s
 *   Kafka 4.1.1: 1 node 5.7 s, 3 nodes 10.7 s (each with other tests running)
 *   stop(): 1 node 0.3-0.6 s; 3 nodes ~5.5 s (the last Raft leader waits out its 5 s graceful-shutdown timeout)
 *   runKafkaTool (e.g. TopicCommand --create): 0.5-0.6 s -> 1-3.6 s
 *   startBroker after stopBroker SIGTERM: 1.8-3 s; after SIGKILL: ~15 s (see broker.session.timeout.ms below)
 *
 * Every JVM started here is killed (SIGKILL) when this Node process exits or gets SIGINT/SIGTERM/SIGHUP, and a
 * tiny watchdog shell per broker kills the broker if this Node process dies without running any handler (SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { freePorts } from './ports.js';
import { makeTestCerts, type TestCerts } from './tls.js';

/** The Kafka versions the harness runs. */
export const KAFKA_VERSIONS = ['3.9.1', '4.1.1'] as const;
export type KafkaVersion = (typeof KAFKA_VERSIONS)[number];

/**
 * The version clusters and CLI tools use when none is given: env KAP_KAFKA_VERSION (test/run.ts sets it for the
 * pass of the suites it runs against Kafka 4.1), else 3.9.1.
 */
export function defaultKafkaVersion(): KafkaVersion {
  const v = process.env.KAP_KAFKA_VERSION;
  if (v === undefined || v === '') return '3.9.1';
  if (!(KAFKA_VERSIONS as readonly string[]).includes(v)) throw new Error(`KAP_KAFKA_VERSION=${v}: must be one of ${KAFKA_VERSIONS.join(', ')}`);
  return v as KafkaVersion;
}

export interface BrokerInfo {
  nodeId: number;
  host: '127.0.0.1';
  plainPort: number;
  saslPort: number;
  sslPort?: number;
  /** Inter-broker listener (PLAINTEXT protocol, listener name INTERNAL); not meant for clients. */
  internalPort: number;
  controllerPort: number;
  /** pid of the running JVM; undefined while the node is stopped. */
  pid?: number;
}

export interface KafkaCluster {
  /** The Kafka version the brokers run. */
  version: KafkaVersion;
  clusterId: string;
  runDir: string;
  brokers: BrokerInfo[];
  /** "127.0.0.1:p1,127.0.0.1:p2,..." (PLAINTEXT listeners, super user ANONYMOUS) */
  plainBootstrap: string;
  /** SASL_PLAINTEXT listeners (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) */
  saslBootstrap: string;
  /** SSL listeners; only when started with `{ tls: true }`. */
  sslBootstrap?: string;
  /** The PKI the SSL listeners use; only when started with `{ tls: true }`. */
  certs?: TestCerts;
  /** SIGTERM every running node, SIGKILL after 30 s, then rm -rf runDir unless KEEP_KAFKA_RUN=1. Idempotent. */
  stop(): Promise<void>;
  /** Stop one node (SIGTERM = controlled shutdown, SIGKILL = crash). Resolves when the JVM has exited. */
  stopBroker(nodeId: number, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Restart a stopped node with the same ports and data; resolves once every running node is registered again. */
  startBroker(nodeId: number): Promise<void>;
  /** Path of that node's server log (stdout + stderr of its JVM, appended across restarts). */
  logOf(nodeId: number): string;
}

export interface StartKafkaClusterOptions {
  /** Number of combined broker+controller nodes. Default 1. */
  brokers?: 1 | 3;
  /** Where to put configs, data and logs. Default: a fresh <repo>/.run/kafka-XXXXXX. Removed by stop(). */
  runDir?: string;
  /** Extra/overriding server.properties entries, applied to every node last. */
  extraProps?: Record<string, string>;
  /** Also open an SSL listener per node (certificates from makeTestCerts in <runDir>/certs). Default false. */
  tls?: boolean;
  /** Kafka version of the brokers. Default: {@link defaultKafkaVersion} (3.9.1 unless KAP_KAFKA_VERSION says otherwise). */
  version?: KafkaVersion;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..');
const SCRIPTS_DIR = join(REPO_ROOT, 'scripts', 'kafka');

/** Absolute path of the jar folder of Kafka 3.9.1 (override with env KAFKA_LIB); 4.1.1's is its subfolder 4.1.1/. */
export const KAFKA_LIB: string = process.env.KAFKA_LIB ? resolve(process.env.KAFKA_LIB) : join(REPO_ROOT, '.kafka-lib');

/** The folder holding a Kafka version's broker and CLI jars (scripts/kafka/fetch.sh). */
export function kafkaLibOf(version: KafkaVersion): string {
  return version === '3.9.1' ? KAFKA_LIB : join(KAFKA_LIB, version);
}

const JAVA = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
// Passed verbatim: the JVM expands "dir/*" to every jar directly in dir (not in its subfolders, so versions never mix).
const classpathOf = (version: KafkaVersion): string => `${kafkaLibOf(version)}/*`;

/** Logging configuration: reload4j (log4j 1.x syntax) for 3.9, log4j2 for 4.x. */
function logArgs(version: KafkaVersion, kind: 'broker' | 'tools'): string {
  const base = kind === 'broker' ? 'log4j' : 'tools-log4j';
  return version === '3.9.1'
    ? `-Dlog4j.configuration=file:${join(SCRIPTS_DIR, `${base}.properties`)}`
    : `-Dlog4j2.configurationFile=${join(SCRIPTS_DIR, `${base}2.properties`)}`;
}

const brokerJvmArgs = (version: KafkaVersion): string[] => [
  '-Xms384m', '-Xmx384m',
  '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent', '-XX:MaxInlineLevel=15',
  '-Djava.awt.headless=true',
  logArgs(version, 'broker'),
];

/**
 * CLI main classes that Kafka 4.0 moved from the core (Scala) jar to kafka-tools: a test names the 3.9 class and,
 * run against 4.1, gets the same tool from 4.1's jars.
 */
const TOOL_CLASSES_4: Readonly<Record<string, string>> = {
  'kafka.tools.ConsoleProducer': 'org.apache.kafka.tools.ConsoleProducer',
  'kafka.admin.AclCommand': 'org.apache.kafka.tools.AclCommand',
};

/** The main class of a CLI tool in a Kafka version (see TOOL_CLASSES_4). */
export function toolClass(mainClass: string, version: KafkaVersion): string {
  return version === '3.9.1' ? mainClass : (TOOL_CLASSES_4[mainClass] ?? mainClass);
}

/** Default JVM flags for CLI tools: small heap, fast start. Replace them with `jvmArgs` for perf tools. */
export const TOOL_JVM_ARGS: readonly string[] = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

const START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 30_000;
const USERS: ReadonlyArray<readonly [string, string]> = [
  ['admin', 'admin-secret'],
  ['alice', 'alice-secret'],
  ['bob', 'bob-secret'],
];

// ---------------------------------------------------------------------------------------------------------------
// Child process bookkeeping: nothing we start may outlive this Node process.

const liveChildren = new Set<ChildProcess>();
let handlersInstalled = false;

function killAllChildrenNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllChildrenNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllChildrenNow();
      // Adding a listener disables Node's default "terminate on signal". If nobody else handles the signal,
      // restore the default and re-raise it so the process still dies with the usual status.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function track(child: ChildProcess): void {
  installExitHandlers();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  child.once('error', () => liveChildren.delete(child));
}

/**
 * A shell that blocks reading a pipe from this process; EOF (this process died, however it died) makes it SIGKILL
 * `pid`. Killed by us as soon as `pid` exits normally, so it can never hit a recycled pid.
 */
function startWatchdog(pid: number): ChildProcess {
  const dog = spawn('sh', ['-c', 'trap "" INT HUP; read -r _; kill -KILL "$1" 2>/dev/null', 'kafka-watchdog', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  dog.on('error', () => undefined);
  dog.stdin?.on('error', () => undefined);
  track(dog);
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function escapePropKey(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/([=: #!])/g, '\\$1').replace(/\n/g, '\\n');
}

function escapePropValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/^ /, '\\ ');
}

function toProperties(props: Record<string, string>, header?: string): string {
  const lines = header ? [`# ${header}`] : [];
  for (const [k, v] of Object.entries(props)) lines.push(`${escapePropKey(k)}=${escapePropValue(v)}`);
  return lines.join('\n') + '\n';
}

/** Write `<dir>/<name>[.properties]` in Java properties syntax and return its absolute path. */
export function writeClientProps(dir: string, name: string, props: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, name.endsWith('.properties') ? name : `${name}.properties`);
  writeFileSync(file, toProperties(props));
  return file;
}

function newClusterId(): string {
  // Same shape as org.apache.kafka.common.Uuid: 16 random bytes, base64url, no padding; never starting with '-'.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tcpAccepts(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolvePromise(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function tailOf(file: string, lines = 40): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    if (all[all.length - 1] === '') all.pop();
    return all.slice(-lines).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${(e as Error).message})`;
  }
}

function firstErrorLine(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').split('\n').find((l) => / (ERROR|FATAL) |^Exception|^Caused by/.test(l));
  } catch {
    return undefined;
  }
}

function logMentionsBindFailure(file: string): boolean {
  try {
    return /Address already in use|java\.net\.BindException/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function keepRunDir(): boolean {
  return process.env.KEEP_KAFKA_RUN === '1';
}

// ---------------------------------------------------------------------------------------------------------------
// CLI tools

export interface KafkaToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a Kafka CLI main class (e.g. `org.apache.kafka.tools.TopicCommand`) on a Kafka version's classpath
 * (`version`, default {@link defaultKafkaVersion}; a 3.9 class 4.x moved is translated, see {@link toolClass}).
 * Logging: WARN+ on stderr. Never throws for a non-zero exit; `code` is null when the JVM was killed
 * (timeout, default 120 s). `jvmArgs` replaces {@link TOOL_JVM_ARGS} (use it for ProducerPerformance etc.).
 * `extraClasspath` adds entries after the Kafka jars (a test's own compiled classes).
 */
export async function runKafkaTool(
  mainClass: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string>; jvmArgs?: string[]; version?: KafkaVersion; extraClasspath?: string[] } = {},
): Promise<KafkaToolResult> {
  const version = opts.version ?? defaultKafkaVersion();
  mainClass = toolClass(mainClass, version);
  const cp = [classpathOf(version), ...(opts.extraClasspath ?? [])].join(':');
  const jvm = [...(opts.jvmArgs ?? TOOL_JVM_ARGS), '-Djava.awt.headless=true', logArgs(version, 'tools'), '-cp', cp, mainClass, ...args];
  const child = spawn(JAVA, jvm, {
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  track(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  if (opts.stdin !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined); // tool may exit without reading all of it
    child.stdin.end(opts.stdin);
  }
  let timedOut = false;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  try {
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolvePromise(c));
    });
    let stderr = Buffer.concat(err).toString('utf8');
    if (timedOut) stderr += `\n[harness] ${mainClass} killed after ${timeoutMs} ms timeout\n`;
    return { code, stdout: Buffer.concat(out).toString('utf8'), stderr };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster

interface NodeState {
  version: KafkaVersion;
  info: BrokerInfo;
  dir: string;
  configPath: string;
  logPath: string;
  child?: ChildProcess;
  watchdog?: ChildProcess;
  exited?: Promise<void>;
}

class PortInUseError extends Error {}

function brokerProps(
  node: BrokerInfo,
  all: BrokerInfo[],
  dataDir: string,
  certs: TestCerts | undefined,
  keystore: string | undefined,
  extra: Record<string, string>,
  version: KafkaVersion,
): Record<string, string> {
  // Replication factor = cluster size: 1 node -> 1; 3 nodes -> 3, so topics (including __consumer_offsets, created on
  // first group use) survive stopping brokers. Creating them needs all 3 brokers up; min.insync.replicas stays 1.
  const rf = String(all.length);
  const listeners = [
    `PLAINTEXT://127.0.0.1:${node.plainPort}`,
    `SASL_PLAINTEXT://127.0.0.1:${node.saslPort}`,
    ...(node.sslPort ? [`SSL://127.0.0.1:${node.sslPort}`] : []),
    `INTERNAL://127.0.0.1:${node.internalPort}`,
  ];
  const plainJaas =
    'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
    USERS.map(([u, p]) => `user_${u}="${p}"`).join(' ') +
    ';';
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': String(node.nodeId),
    'controller.quorum.voters': all.map((b) => `${b.nodeId}@127.0.0.1:${b.controllerPort}`).join(','),
    'controller.listener.names': 'CONTROLLER',
    listeners: [...listeners, `CONTROLLER://127.0.0.1:${node.controllerPort}`].join(','),
    'advertised.listeners': listeners.join(','),
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'INTERNAL',

    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': plainJaas,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',

    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin;User:ANONYMOUS',
    // Delegation tokens (SCRAM logins with tokenauth=true) for the tests of token logins through the proxy.
    'delegation.token.secret.key': 'kap-test-delegation-token-secret',
    'allow.everyone.if.no.acl.found': 'false',

    'log.dirs': dataDir,
    'auto.create.topics.enable': 'false',
    'delete.topic.enable': 'true',
    'num.partitions': '1',
    'default.replication.factor': rf,
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': rf,
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',

    // small footprint: 3 nodes on 2 cores with 384 MiB heaps
    'num.network.threads': '2',
    'num.io.threads': '2',
    'background.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': String(16 * 1024 * 1024),
    // Heartbeat every 500 ms (default 2000): the broker is unfenced and finishes controlled shutdown sooner.
    'broker.heartbeat.interval.ms': '500',
    // Kafka's default. After a SIGKILL the controller refuses the node's re-registration
    // (DUPLICATE_BROKER_REGISTRATION) until this expires, so startBroker() after SIGKILL takes ~10-15 s.
    // Lower it through extraProps for faster crash/restart tests (at the risk of spurious fencing on a busy box).
    'broker.session.timeout.ms': '9000',
  };
  if (version !== '3.9.1') {
    Object.assign(props, {
      // Share groups (KIP-932; on through share.version=1 at format time): the share coordinator's state topic, sized
      // like __consumer_offsets here (its defaults, 50 partitions with 3 replicas and min ISR 2, are for production).
      'share.coordinator.state.topic.replication.factor': rf,
      'share.coordinator.state.topic.min.isr': '1',
      'share.coordinator.state.topic.num.partitions': '1',
    });
  }
  if (certs && keystore) {
    Object.assign(props, {
      'listener.name.ssl.ssl.keystore.type': 'PEM',
      'listener.name.ssl.ssl.keystore.location': keystore,
      'listener.name.ssl.ssl.truststore.type': 'PEM',
      'listener.name.ssl.ssl.truststore.location': certs.caCert,
      'listener.name.ssl.ssl.client.auth': 'requested',
    });
  }
  return { ...props, ...extra };
}

function scramArgs(): string[] {
  const args: string[] = [];
  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    for (const [u, p] of USERS) args.push('--add-scram', `${mech}=[name=${u},password=${p}]`);
  }
  return args;
}

class Cluster implements KafkaCluster {
  readonly version: KafkaVersion;
  readonly brokers: BrokerInfo[];
  readonly plainBootstrap: string;
  readonly saslBootstrap: string;
  readonly sslBootstrap?: string;
  private stopped = false;

  constructor(
    readonly clusterId: string,
    readonly runDir: string,
    private readonly nodes: NodeState[],
    readonly certs?: TestCerts,
  ) {
    this.brokers = nodes.map((n) => n.info);
    this.version = nodes[0].version;
    const list = (key: 'plainPort' | 'saslPort' | 'sslPort') => this.brokers.map((b) => `127.0.0.1:${b[key]}`).join(',');
    this.plainBootstrap = list('plainPort');
    this.saslBootstrap = list('saslPort');
    if (certs) this.sslBootstrap = list('sslPort');
  }

  private node(nodeId: number): NodeState {
    const n = this.nodes.find((x) => x.info.nodeId === nodeId);
    if (!n) throw new Error(`no node ${nodeId} in cluster (nodes: ${this.brokers.map((b) => b.nodeId).join(', ')})`);
    return n;
  }

  logOf(nodeId: number): string {
    return this.node(nodeId).logPath;
  }

  async stopBroker(nodeId: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await stopNode(this.node(nodeId), signal);
  }

  async startBroker(nodeId: number): Promise<void> {
    if (this.stopped) throw new Error('cluster was stopped');
    const n = this.node(nodeId);
    if (n.child) throw new Error(`node ${nodeId} is already running (pid ${n.info.pid})`);
    spawnBroker(n);
    try {
      await waitReady(this.nodes.filter((x) => x.child), Date.now() + START_TIMEOUT_MS);
    } catch (e) {
      await stopNode(n, 'SIGKILL');
      throw e;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.nodes.map((n) => stopNode(n, 'SIGTERM')));
    if (!keepRunDir()) await rm(this.runDir, { recursive: true, force: true });
  }
}

function spawnBroker(n: NodeState): void {
  const fd = openSync(n.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(JAVA, [...brokerJvmArgs(n.version), `-Dkafka.logs.dir=${n.dir}`, '-cp', classpathOf(n.version), 'kafka.Kafka', n.configPath], {
      cwd: n.dir,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  track(child);
  n.child = child;
  n.info.pid = child.pid;
  n.watchdog = child.pid ? startWatchdog(child.pid) : undefined;
  n.exited = new Promise<void>((resolvePromise) => {
    const onGone = (): void => {
      if (n.child === child) {
        n.child = undefined;
        n.info.pid = undefined;
        n.watchdog?.kill('SIGKILL');
        n.watchdog = undefined;
      }
      resolvePromise();
    };
    child.once('exit', (code, signal) => {
      try {
        appendFileSync(n.logPath, `[harness] kafka.Kafka ${n.version} pid ${child.pid} exited: code=${code} signal=${signal}\n`);
      } catch {
        // run dir already removed
      }
      onGone();
    });
    child.once('error', (e) => {
      appendFileSync(n.logPath, `[harness] failed to spawn ${JAVA}: ${e.message}\n`);
      onGone();
    });
  });
}

/** Signal the node's JVM and wait for it to exit (SIGKILL after the grace period). No-op if not running. */
async function stopNode(n: NodeState, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const child = n.child;
  const exited = n.exited;
  if (!child || !exited) return;
  child.ref(); // keep the event loop alive until it is really gone
  child.kill(signal);
  const killer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    if (killer) clearTimeout(killer);
  }
}

/**
 * Ready = every node's PLAINTEXT port accepts TCP and a Metadata round trip over PLAINTEXT lists every one of
 * `nodes` as a registered (unfenced) broker. Fails fast if a JVM exits.
 */
async function waitReady(nodes: NodeState[], deadline: number): Promise<void> {
  for (const n of nodes) n.child?.ref();
  const failIfExited = (): void => {
    for (const n of nodes) {
      if (!n.child) {
        const firstError = firstErrorLine(n.logPath);
        const msg =
          `kafka node ${n.info.nodeId} exited during startup` +
          (firstError ? `; first error: ${firstError}` : '') +
          `\nlast lines of ${n.logPath}:\n${tailOf(n.logPath)}`;
        if (logMentionsBindFailure(n.logPath)) throw new PortInUseError(msg);
        throw new Error(msg);
      }
    }
  };
  const expected = nodes.map((n) => n.info.nodeId).sort((a, b) => a - b);
  let lastProblem = 'ports not open yet';
  try {
    // 1. TCP on every PLAINTEXT port (Kafka opens fixed-port broker listeners only once request processing is on).
    for (;;) {
      failIfExited();
      const open = await Promise.all(nodes.map((n) => tcpAccepts(n.info.plainPort)));
      if (open.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error('timeout');
      await sleep(200);
    }
    // 2. Real round trip: all nodes registered.
    const kafka = new Kafka({
      clientId: 'kafka-harness-readiness',
      brokers: nodes.map((n) => `127.0.0.1:${n.info.plainPort}`),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      requestTimeout: 5000,
      retry: { retries: 0 },
    });
    for (;;) {
      failIfExited();
      const admin = kafka.admin();
      try {
        await admin.connect();
        const { brokers } = await admin.describeCluster();
        const ids = brokers.map((b) => b.nodeId).sort((a, b) => a - b);
        if (expected.every((id) => ids.includes(id))) return;
        lastProblem = `registered brokers ${JSON.stringify(ids)}, want ${JSON.stringify(expected)}`;
      } catch (e) {
        lastProblem = `describeCluster: ${(e as Error).message}`;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error('timeout');
      await sleep(200);
    }
  } catch (e) {
    if ((e as Error).message !== 'timeout') throw e;
    failIfExited();
    const tails = nodes.map((n) => `--- node ${n.info.nodeId}: ${n.logPath}\n${tailOf(n.logPath)}`).join('\n');
    throw new Error(`kafka not ready within ${START_TIMEOUT_MS / 1000}s (${lastProblem})\n${tails}`);
  } finally {
    for (const n of nodes) n.child?.unref();
  }
}

async function formatNode(n: NodeState, clusterId: string): Promise<void> {
  // 4.1: share groups on (KIP-932 is a preview there, off unless the share.version feature is finalized).
  const features = n.version === '3.9.1' ? [] : ['--feature', 'share.version=1'];
  const res = await runKafkaTool('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', n.configPath, ...scramArgs(), ...features], {
    timeoutMs: 60_000, version: n.version,
  });
  await writeFile(join(n.dir, 'format.log'), `${res.stdout}${res.stderr}`);
  if (res.code !== 0) {
    throw new Error(`StorageTool format for node ${n.info.nodeId} exited ${res.code}:\n${res.stdout}${res.stderr}`);
  }
}

async function startOnce(
  runDir: string, count: number, extra: Record<string, string>, certs: TestCerts | undefined, version: KafkaVersion,
): Promise<Cluster> {
  const perNode = certs ? 5 : 4;
  const ports = await freePorts(perNode * count);
  const infos: BrokerInfo[] = [];
  for (let i = 0; i < count; i++) {
    const p = ports.slice(i * perNode, (i + 1) * perNode);
    infos.push({
      nodeId: i + 1,
      host: '127.0.0.1',
      plainPort: p[0],
      saslPort: p[1],
      controllerPort: p[2],
      internalPort: p[3],
      ...(certs ? { sslPort: p[4] } : {}),
    });
  }
  let keystore: string | undefined;
  if (certs) {
    // Kafka's PEM keystore: unencrypted PKCS#8 key followed by the certificate chain, in one file.
    keystore = join(runDir, 'certs', 'server-keystore.pem');
    const [key, cert] = await Promise.all([readFile(certs.serverKey, 'utf8'), readFile(certs.serverCert, 'utf8')]);
    await writeFile(keystore, `${key.trim()}\n${cert.trim()}\n`);
  }
  const clusterId = newClusterId();
  const nodes: NodeState[] = [];
  for (const info of infos) {
    const dir = join(runDir, `node-${info.nodeId}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const configPath = join(dir, 'server.properties');
    const props = brokerProps(info, infos, join(dir, 'data'), certs, keystore, extra, version);
    await writeFile(configPath, toProperties(props, `Kafka ${version} node ${info.nodeId} of ${count}, cluster ${clusterId} (generated by test/harness/kafka-cluster.ts)`));
    nodes.push({ version, info, dir, configPath, logPath: join(dir, 'server.log') });
  }
  await Promise.all(nodes.map((n) => formatNode(n, clusterId)));
  for (const n of nodes) spawnBroker(n);
  try {
    await waitReady(nodes, Date.now() + START_TIMEOUT_MS);
  } catch (e) {
    await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    throw e;
  }
  return new Cluster(clusterId, runDir, nodes, certs);
}

/**
 * Format and start a 1- or 3-node KRaft cluster and wait until every node is registered.
 * Retries (with new ports) if a port was taken between choosing and binding it.
 */
export async function startKafkaCluster(opts: StartKafkaClusterOptions = {}): Promise<KafkaCluster> {
  const count = opts.brokers ?? 1;
  if (count !== 1 && count !== 3) throw new Error(`brokers must be 1 or 3, got ${String(count)}`);
  const version = opts.version ?? defaultKafkaVersion();
  const lib = kafkaLibOf(version);
  if (!existsSync(join(lib, `kafka_2.13-${version}.jar`))) {
    throw new Error(`Kafka ${version} jars missing in ${lib}: run \`bash scripts/kafka/fetch.sh\` first`);
  }
  let runDir: string;
  if (opts.runDir) {
    runDir = resolve(opts.runDir);
    await mkdir(runDir, { recursive: true });
  } else {
    await mkdir(join(REPO_ROOT, '.run'), { recursive: true });
    runDir = await mkdtemp(join(REPO_ROOT, '.run', 'kafka-'));
  }
  try {
    const certs = opts.tls ? await makeTestCerts(join(runDir, 'certs')) : undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(runDir, count, opts.extraProps ?? {}, certs, version);
      } catch (e) {
        if (!(e instanceof PortInUseError) || attempt >= 3) throw e;
      }
    }
  } catch (e) {
    if (!keepRunDir()) await rm(runDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Gives node 1 of a 1-node cluster an extra PLAINTEXT listener, RELAY, bound on its own port but advertising
 * `advertisedPort`: a byte relay listening there and forwarding to the returned port keeps clients on the relay
 * (Metadata names the relay, not the broker). Used by the benchmark's TCP relay and by the frame-capture test.
 * The harness picks its ports at start, so the broker is stopped, reconfigured and started again (~3 s).
 */
export async function addRelayListener(cluster: KafkaCluster, advertisedPort: number): Promise<number> {
  if (cluster.brokers.length !== 1) throw new Error('addRelayListener needs a 1-node cluster');
  const [listenerPort] = await freePorts(1);
  await cluster.stopBroker(1);
  const file = join(cluster.runDir, 'node-1', 'server.properties');
  const props = readFileSync(file, 'utf8').split('\n').map((line) => {
    if (line.startsWith('listeners=')) return `${line},RELAY://127.0.0.1:${listenerPort}`;
    if (line.startsWith('advertised.listeners=')) return `${line},RELAY://127.0.0.1:${advertisedPort}`;
    if (line.startsWith('listener.security.protocol.map=')) return `${line},RELAY:PLAINTEXT`;
    return line;
  });
  writeFileSync(file, props.join('\n'));
  await cluster.startBroker(1);
  return listenerPort;
}
