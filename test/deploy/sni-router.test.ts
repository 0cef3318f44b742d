/** SNI routing without Kafka: names to targets, the listen.sni settings and their messages. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { SniRouter } from '../../src/proxy/sni.js';

describe('SniRouter', () => {
  const r = new SniRouter('bootstrap.kafka.example.com', 'broker-$(nodeId).kafka.example.com');
  test('the bootstrap name, broker names (any case, trailing dot) and nothing else', () => {
    assert.deepEqual(r.route('bootstrap.kafka.example.com'), { kind: 'bootstrap' });
    assert.deepEqual(r.route('BROKER-12.Kafka.Example.com.'), { kind: 'broker', nodeId: 12 });
    assert.deepEqual(r.route('broker-0.kafka.example.com'), { kind: 'broker', nodeId: 0 });
    for (const n of ['broker-01.kafka.example.com', 'broker-.kafka.example.com', 'broker-1.kafka.example.com.evil', 'xbroker-1.kafka.example.com',
      'broker-1xkafka.example.com', 'broker-99999999999.kafka.example.com', '', undefined, false]) {
      assert.equal(r.route(n as string), undefined, String(n));
    }
    assert.equal(r.hostFor(7), 'broker-7.kafka.example.com');
  });
  test('the node id may sit anywhere in the name', () => {
    const k = new SniRouter('kafka.example.com', 'b$(nodeId)-kafka.example.com');
    assert.deepEqual(k.route('b3-kafka.example.com'), { kind: 'broker', nodeId: 3 });
  });
});

describe('listen.sni settings', () => {
  const tls = { cert: '/c.pem', key: '/k.pem' };
  test('valid from the file and from the environment', () => {
    const c = loadConfig({ overrides: { listen: { tls, sni: { bootstrapHost: 'bootstrap.k.example', brokerHostPattern: 'broker-$(nodeId).k.example' } } } });
    assert.equal(c.listen.sni?.brokerHostPattern, 'broker-$(nodeId).k.example');
    const e = loadConfig({ env: { KAP_LISTEN_TLS__CERT: '/c.pem', KAP_LISTEN_TLS__KEY: '/k.pem', KAP_LISTEN_SNI__BOOTSTRAP_HOST: 'b.example', KAP_LISTEN_SNI__BROKER_HOST_PATTERN: 'n$(nodeId).example' } });
    assert.deepEqual(e.listen.sni, { bootstrapHost: 'b.example', brokerHostPattern: 'n$(nodeId).example' });
  });
  test('mistakes name the key and say what is expected', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ tls, sni: { bootstrapHost: 'b.example', brokerHostPattern: 'broker.example' } }, /^listen\.sni\.brokerHostPattern: must be a DNS name with \$\(nodeId\) once/],
      [{ tls, sni: { bootstrapHost: 'b.example', brokerHostPattern: 'b$(nodeId)$(nodeId).example' } }, /^listen\.sni\.brokerHostPattern/],
      [{ tls, sni: { bootstrapHost: 'not a name', brokerHostPattern: 'b$(nodeId).example' } }, /^listen\.sni\.bootstrapHost: must be a DNS name/],
      [{ tls, sni: { bootstrapHost: 'b.example', brokerHostPattern: 'b$(nodeId).example', port: 1 } }, /^listen\.sni\.port: unknown setting \(known here: bootstrapHost, brokerHostPattern\)/],
      [{ sni: { bootstrapHost: 'b.example', brokerHostPattern: 'b$(nodeId).example' } }, /^listen\.sni: needs listen\.tls/],
    ];
    for (const [listen, re] of bad) assert.throws(() => loadConfig({ overrides: { listen } }), (e: Error) => re.test(e.message), JSON.stringify(listen));
  });
});
