import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, DecodeError, UNKNOWN_TAGS } from '../../protocol/codec.js';
import type { MessageSchema } from '../../protocol/schema.js';

/** A synthetic message exercising every encoding rule: flexible switch, nullables, tags, nested structs. */
const Sample: MessageSchema = {
  apiKey: 9999, name: 'SampleRequest', type: 'request', validVersions: '0-3', flexibleVersions: '2+',
  fields: [
    { name: 'Id', type: 'int32', versions: '0+' },
    { name: 'Name', type: 'string', versions: '0+', nullableVersions: '1+' },
    { name: 'Big', type: 'int64', versions: '1+' },
    { name: 'TopicId', type: 'uuid', versions: '3+' },
    { name: 'Flag', type: 'bool', versions: '0+' },
    { name: 'Ids', type: '[]int32', versions: '0+', nullableVersions: '2+' },
    {
      name: 'Items', type: '[]Item', versions: '0+', fields: [
        { name: 'Key', type: 'string', versions: '0+' },
        { name: 'Data', type: 'bytes', versions: '0+', nullableVersions: '0+' },
        { name: 'Note', type: 'string', versions: '2+', nullableVersions: '2+', tag: 0, taggedVersions: '2+' },
      ],
    },
    { name: 'Cursor', type: 'Cursor', versions: '3+', nullableVersions: '3+', fields: [{ name: 'Pos', type: 'int16', versions: '3+' }] },
    { name: 'Zone', type: 'string', versions: '2+', tag: 1, taggedVersions: '2+' },
  ],
};

test('v0 layout: int16 string lengths, int32 array counts, no tagged fields', () => {
  const bytes = Buffer.from([
    0, 0, 0, 7, // Id
    0, 2, 0x61, 0x62, // Name "ab"
    1, // Flag
    0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, // Ids [1,2]
    0, 0, 0, 1, 0, 1, 0x6b, 0xff, 0xff, 0xff, 0xff, // Items [{Key "k", Data null}]
  ]);
  const v = decodeMessage(Sample, 0, bytes);
  assert.deepEqual(v, { Id: 7, Name: 'ab', Flag: true, Ids: [1, 2], Items: [{ Key: 'k', Data: null }] });
  assert.deepEqual(encodeMessage(Sample, 0, v), bytes);
});

test('v0 rejects a null string that is not nullable in v0', () => {
  const bytes = Buffer.from([0, 0, 0, 7, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => decodeMessage(Sample, 0, bytes), (e: unknown) => e instanceof DecodeError && /Name is null/.test((e as Error).message));
  assert.equal(decodeMessage(Sample, 1, Buffer.concat([bytes.subarray(0, 6), Buffer.alloc(8), bytes.subarray(6)])).Name, null);
});

test('v3 flexible layout: compact lengths, tagged fields known and unknown, nullable struct, uuid', () => {
  const uuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const bytes = Buffer.from([
    0, 0, 0, 1, // Id
    0x03, 0x68, 0x69, // Name compact "hi"
    0, 0, 0, 0, 0, 0, 0x01, 0x00, // Big 256
    ...uuid,
    0, // Flag false
    0x00, // Ids null (compact 0)
    0x02, // Items: 1 element
    0x02, 0x6b, // Key "k"
    0x03, 0xaa, 0xbb, // Data 2 bytes
    0x01, 0x00, 0x03, 0x03, 0x6e, 0x6e, // tagged: 1 entry, tag 0 size 3: compact "nn"
    0x01, 0x00, 0x05, 0x00, // Cursor present, Pos 5, no tags
    0x02, // top-level tagged: 2 entries
    0x01, 0x03, 0x03, 0x7a, 0x7a, // tag 1 Zone "zz"
    0x07, 0x02, 0xde, 0xad, // tag 7 unknown, 2 bytes
  ]);
  const v = decodeMessage(Sample, 3, bytes);
  assert.equal(v.Name, 'hi');
  assert.equal(v.Big, 256n);
  assert.equal(v.TopicId, uuid.toString('base64url'));
  assert.equal(v.Ids, null);
  assert.deepEqual(v.Items[0].Data, Buffer.from([0xaa, 0xbb]));
  assert.equal(v.Items[0].Note, 'nn');
  assert.deepEqual(v.Cursor, { Pos: 5 });
  assert.equal(v.Zone, 'zz');
  assert.deepEqual(v[UNKNOWN_TAGS], [{ tag: 7, data: Buffer.from([0xde, 0xad]) }]);
  assert.deepEqual(encodeMessage(Sample, 3, v), bytes);
});

test('truncated bodies, trailing bytes, overlong varints and bad tag order are DecodeErrors', () => {
  const good = encodeMessage(Sample, 2, { Id: 1, Name: 'x', Big: 1n, Flag: true, Ids: [], Items: [] });
  for (let cut = 0; cut < good.length; cut++) {
    assert.throws(() => decodeMessage(Sample, 2, good.subarray(0, cut)), DecodeError, `cut at ${cut}`);
  }
  assert.throws(() => decodeMessage(Sample, 2, Buffer.concat([good, Buffer.from([0])])), /trailing bytes/);
  const overlong = Buffer.concat([good.subarray(0, 4), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])]);
  assert.throws(() => decodeMessage(Sample, 2, overlong), DecodeError);
  const outOfOrder = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([0x02, 0x07, 0x00, 0x01, 0x01, 0x61])]);
  assert.throws(() => decodeMessage(Sample, 2, outOfOrder), /out of order/);
  // A tagged field whose value is shorter than its declared size (tag 1 = Zone, size 3, compact "z").
  const shortTag = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([0x01, 0x01, 0x03, 0x02, 0x7a, 0x7a])]);
  assert.throws(() => decodeMessage(Sample, 2, shortTag), /tagged field 1/);
});

test('randomized round trips through encode and decode for every version', () => {
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const str = () => 'abcdefghijklmnopqrstuvwxyzé'.slice(0, rnd(20));
  for (let i = 0; i < 500; i++) {
    const version = rnd(4);
    const flexible = version >= 2;
    const value: Record<string, any> = {
      Id: rnd(1 << 30) - (1 << 29), Name: version >= 1 && rnd(4) === 0 ? null : str(), Flag: rnd(2) === 1,
      Ids: flexible && rnd(5) === 0 ? null : Array.from({ length: rnd(5) }, () => rnd(1000)),
      Items: Array.from({ length: rnd(4) }, () => {
        const it: Record<string, any> = { Key: str(), Data: rnd(3) === 0 ? null : Buffer.from(str()) };
        if (flexible && rnd(2) === 0) it.Note = rnd(3) === 0 ? null : str();
        return it;
      }),
    };
    if (version >= 1) value.Big = BigInt(rnd(1 << 30)) * 4096n - 99n;
    if (version >= 3) {
      value.TopicId = Buffer.from(Array.from({ length: 16 }, () => rnd(256))).toString('base64url');
      value.Cursor = rnd(2) ? null : { Pos: rnd(3000) };
    }
    if (flexible && rnd(2) === 0) value.Zone = str();
    const bytes = encodeMessage(Sample, version, value);
    const back = decodeMessage(Sample, version, bytes);
    assert.deepEqual(back, value, `iteration ${i} v${version}`);
    assert.deepEqual(encodeMessage(Sample, version, back), bytes);
  }
});
