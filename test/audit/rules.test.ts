import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import type { AuditOperation } from '../../src/audit/operation.js';
import { AuditRules, Deduper, dedupeKey, parseRulesConfig, type DedupeFold } from '../../src/audit/rules.js';

let n = 0;
type OpOver = Partial<AuditOperation> & { principal?: string; conn?: string; address?: string };
function op(over: OpOver = {}): AuditOperation {
  const { principal, conn, address, ...rest } = over;
  return {
    category: 'management', method: 'CreateTopics', correlationId: ++n, clientId: 'c',
    connection: { connectionId: conn ?? 'conn-1', clientAddress: address ?? '10.0.0.5:5000', principal: principal ?? 'User:alice', securityProtocol: 'SASL_PLAINTEXT', saslMechanism: 'PLAIN' },
    resource: { type: 'Topic', name: 'orders' }, operation: 'Create', result: { errorCode: 0, errorName: 'NONE' }, timeMs: 1_700_000_000_000 + n,
    ...rest,
  };
}
const denied = (o: OpOver = {}) => op({ result: { errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED' }, ...o });

test('defaults: authentication, management, authorize-denied on; describe, produce, consume off', () => {
  const rules = new AuditRules(parseRulesConfig(undefined));
  assert.equal(rules.decide(op({ category: 'authentication', method: 'Authentication' })).keep, true);
  assert.equal(rules.decide(op()).keep, true);
  assert.deepEqual(rules.decide(op({ category: 'describe', method: 'DescribeConfigs' })), { keep: false, topic: 'confluent-audit-log-events', reason: 'category_off' });
  assert.equal(rules.decide(op({ category: 'produce', method: 'Produce' })).keep, false);
  assert.equal(rules.decide(op({ category: 'consume', method: 'Fetch' })).keep, false);
  assert.equal(rules.decide(op({ category: 'lifecycle', method: 'Started' })).keep, true);
});

test('each category can be switched; on/off strings from YAML work', () => {
  const cfg = parseRulesConfig(parseYaml(`
categories:
  authentication: off
  management: off
  describe: on
  produce: on
  consume: true
`));
  const rules = new AuditRules(cfg);
  assert.equal(rules.decide(op({ category: 'authentication', method: 'Authentication' })).keep, false);
  assert.equal(rules.decide(op()).keep, false);
  assert.equal(rules.decide(op({ category: 'describe', method: 'Metadata' })).keep, true);
  assert.equal(rules.decide(op({ category: 'produce', method: 'Produce' })).keep, true);
  assert.equal(rules.decide(op({ category: 'consume', method: 'Fetch' })).keep, true);
});

test('authorize-denied keeps denials of categories that are off, unless switched off', () => {
  const on = new AuditRules(parseRulesConfig({ categories: { management: 'off', describe: 'off', produce: 'off' } }));
  assert.equal(on.decide(denied()).keep, true);
  assert.equal(on.decide(denied({ category: 'describe', method: 'Metadata' })).keep, true);
  assert.equal(on.decide(denied({ category: 'produce', method: 'Produce' })).keep, true);
  assert.equal(on.decide(op()).keep, false);
  const off = new AuditRules(parseRulesConfig({ categories: { management: 'off', 'authorize-denied': 'off' } }));
  assert.equal(off.decide(denied()).keep, false);
});

test('first-per-connection keeps the first produce per connection and resource', () => {
  const rules = new AuditRules(parseRulesConfig({ categories: { produce: 'first-per-connection', consume: 'first-per-connection' } }));
  const produce = (conn: string, topic: string) => rules.decide(op({ category: 'produce', method: 'Produce', conn, resource: { type: 'Topic', name: topic } }));
  assert.equal(produce('c1', 'a').keep, true);
  assert.deepEqual(produce('c1', 'a'), { keep: false, topic: 'confluent-audit-log-events', reason: 'sampled' });
  assert.equal(produce('c1', 'b').keep, true);
  assert.equal(produce('c2', 'a').keep, true);
  // consume is tracked separately from produce
  assert.equal(rules.decide(op({ category: 'consume', method: 'Fetch', conn: 'c1', resource: { type: 'Topic', name: 'a' } })).keep, true);
  // a denial is always kept and does not use up the "first"
  assert.equal(rules.decide(denied({ category: 'produce', method: 'Produce', conn: 'c3', resource: { type: 'Topic', name: 'a' } })).keep, true);
  assert.equal(produce('c3', 'a').keep, true);
  rules.connectionClosed('c1');
  assert.equal(produce('c1', 'a').keep, true);
});

test('excluded principals, and the proxy\'s own principal always excluded', () => {
  const rules = new AuditRules(parseRulesConfig({ excludedPrincipals: ['User:kafka'] }), { selfPrincipal: 'User:audit-proxy' });
  assert.deepEqual(rules.decide(op({ principal: 'User:kafka' })), { keep: false, topic: 'confluent-audit-log-events', reason: 'excluded_principal' });
  assert.equal(rules.decide(op({ principal: 'User:audit-proxy' })).reason, 'excluded_principal');
  assert.equal(rules.decide(op({ principal: 'User:alice' })).keep, true);
  assert.deepEqual(rules.excludedPrincipals.sort(), ['User:audit-proxy', 'User:kafka']);
  const dflt = new AuditRules(parseRulesConfig({}), { selfPrincipal: 'User:audit-proxy' });
  assert.equal(dflt.decide(op({ principal: 'User:audit-proxy' })).keep, false);
});

test('excluded principals win over authorize-denied (as in Confluent excluded_principals)', () => {
  const rules = new AuditRules(parseRulesConfig({ excludedPrincipals: ['User:kafka'] }));
  const o = denied();
  o.connection!.principal = 'User:kafka';
  assert.equal(rules.decide(o).keep, false);
});

test('routes: first match wins, globs on method/resource, typed resource patterns, category', () => {
  const rules = new AuditRules(parseRulesConfig(parseYaml(`
defaultTopic: audit-default
routes:
  - match: { resource: "topic=payments-*", method: "Delete*" }
    topic: audit-payments-deletes
  - match: { resource: "payments-*" }
    topic: audit-payments
  - match: { category: authentication }
    topic: audit-logins
  - match: { method: "?reateAcls" }
    topic: audit-acls
  - match: { resource: "kafka=*" }
    topic: audit-cluster
`)));
  const t = (o: Partial<AuditOperation>) => rules.decide(op(o)).topic;
  assert.equal(t({ method: 'DeleteTopics', resource: { type: 'Topic', name: 'payments-eu' } }), 'audit-payments-deletes');
  assert.equal(t({ method: 'DeleteGroups', resource: { type: 'Group', name: 'payments-eu' } }), 'audit-payments');
  assert.equal(t({ method: 'CreateTopics', resource: { type: 'Topic', name: 'payments-eu' } }), 'audit-payments');
  assert.equal(t({ category: 'authentication', method: 'Authentication', resource: { type: 'Cluster', name: 'kafka-cluster' } }), 'audit-logins');
  assert.equal(t({ method: 'CreateAcls', resource: { type: 'Acl', name: 'x' } }), 'audit-acls');
  assert.equal(t({ method: 'AlterConfigs', resource: { type: 'Cluster', name: 'kafka-cluster' } }), 'audit-cluster');
  assert.equal(t({ method: 'CreateTopics', resource: { type: 'Topic', name: 'orders' } }), 'audit-default');
  assert.equal(t({ method: 'CreateTopics', resource: { type: 'Topic', name: 'payments' } }), 'audit-default'); // glob needs the "-"
  assert.deepEqual(rules.topics().sort(), ['audit-acls', 'audit-cluster', 'audit-default', 'audit-logins', 'audit-payments', 'audit-payments-deletes']);
});

test('config errors name the bad key', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ categories: { produce: 'maybe' } }, /^audit\.rules\.categories\.produce: must be one of off, on, first-per-connection \(got "maybe"\)$/],
    [{ categories: { management: 'yes' } }, /^audit\.rules\.categories\.management: must be on or off \(true\/false\) \(got "yes"\)$/],
    [{ categories: { heartbeat: true } }, /^audit\.rules\.categories\.heartbeat: unknown key; expected one of authentication, management, authorize-denied, describe, produce, consume$/],
    [{ categorys: {} }, /^audit\.rules\.categorys: unknown key/],
    [{ excludedPrincipals: 'User:kafka' }, /^audit\.rules\.excludedPrincipals: must be a list/],
    [{ excludedPrincipals: ['kafka'] }, /^audit\.rules\.excludedPrincipals\[0\]: must be a principal of the form/],
    [{ routes: [{ match: { method: 'X' } }] }, /^audit\.rules\.routes\[0\]\.topic: must be a non-empty topic name \(got nothing\)$/],
    [{ routes: [{ match: { verb: 'X' }, topic: 't' }] }, /^audit\.rules\.routes\[0\]\.match\.verb: unknown key/],
    [{ routes: [{ match: { category: 'admin' }, topic: 't' }] }, /^audit\.rules\.routes\[0\]\.match\.category: must be one of/],
    [{ routes: [{ topic: 'bad topic' }] }, /^audit\.rules\.routes\[0\]\.topic: topic name may only contain/],
    [{ defaultTopic: 'x'.repeat(250) }, /^audit\.rules\.defaultTopic: topic name longer than 249/],
    [{ dedupe: { windowMs: -1 } }, /^audit\.rules\.dedupe\.windowMs: must be an integer >= 0 \(got -1\)$/],
    [{ dedupe: { windowMs: 100, maxEntries: 0 } }, /^audit\.rules\.dedupe\.maxEntries: must be an integer > 0 \(got 0\)$/],
    [[], /^audit\.rules: must be a mapping \(got a list\)$/],
  ];
  for (const [cfg, re] of bad) assert.throws(() => parseRulesConfig(cfg), (e: Error) => re.test(e.message) || assert.fail(`${JSON.stringify(cfg)} -> ${e.message}`));
  assert.equal(parseRulesConfig({ dedupe: { windowMs: 0 } }).dedupe, undefined);
  assert.deepEqual(parseRulesConfig({ dedupe: { windowMs: 500 } }).dedupe, { windowMs: 500, maxEntries: 10000 });
});

test('dedupe: first emitted at once, repeats folded into one summary at window end with count and times', async () => {
  const summaries: Array<{ op: AuditOperation; fold: DedupeFold }> = [];
  const d = new Deduper({ windowMs: 150, maxEntries: 100 }, (o, fold) => summaries.push({ op: o, fold }));
  const a1 = denied({ address: '10.0.0.5:1111' });
  assert.equal(d.offer(a1), true);
  const repeats = [2222, 3333, 4444].map((p) => denied({ address: `10.0.0.5:${p}` })); // new source port each time
  for (const r of repeats) assert.equal(d.offer(r), false);
  assert.equal(d.offer(denied({ principal: 'User:bob' })), true); // different principal
  assert.equal(d.offer(op()), true); // different result code
  assert.equal(d.offer(denied({ address: '10.0.0.6:1111' })), true); // different host
  assert.equal(d.offer(denied({ method: 'DeleteTopics' })), true); // different method
  assert.equal(summaries.length, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(summaries.length, 1);
  assert.deepEqual(summaries[0].fold, { count: 3, firstTimeMs: repeats[0].timeMs, lastTimeMs: repeats[2].timeMs });
  assert.equal(summaries[0].op, repeats[2]);
  // after the window a new occurrence is emitted at once again
  assert.equal(d.offer(denied()), true);
  assert.equal(d.size, 1);
});

test('dedupe: a window with no repeats emits no summary; flush and eviction emit pending summaries', () => {
  const summaries: DedupeFold[] = [];
  const d = new Deduper({ windowMs: 60_000, maxEntries: 2 }, (_o, f) => summaries.push(f));
  const a = op({ method: 'A' }); const b = op({ method: 'B' }); const c = op({ method: 'C' });
  d.offer(a); d.offer(op({ method: 'A' })); d.offer(op({ method: 'A' }));
  d.offer(b);
  d.offer(c); // evicts A (least recently used) -> its summary now
  assert.deepEqual(summaries.map((s) => s.count), [2]);
  d.offer(op({ method: 'C' }));
  d.flush(); // B has no repeats: no summary; C has one
  assert.deepEqual(summaries.map((s) => s.count), [2, 1]);
  assert.equal(d.size, 0);
  assert.notEqual(dedupeKey(a), dedupeKey(b));
});
