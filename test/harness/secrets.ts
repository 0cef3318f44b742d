/**
 * Secret-leak checks that look for a secret in every form a careless log call, event or error message could
 * carry it, not only as plain text: a Buffer logged by pino becomes `{"type":"Buffer","data":[112,97,...]}`,
 * `util.inspect` prints `<Buffer 70 61 ...>`, tokens get base64/base64url/hex encoded, strings get JSON- or
 * percent-escaped. Base64 forms are searched at all three byte alignments, so a password inside a larger
 * encoded blob (the SASL PLAIN token `\0user\0password`, `user:password` in a Basic header) is found too.
 *
 * A failing check names where the secret was found, which secret (by label, never by value) and in which
 * encoding, and shows the surrounding text with every secret form masked.
 */
import assert from 'node:assert/strict';

/**
 * One searchable form of a secret: `text` is the encoded secret, searched as is (or ignoring case); a form that
 * needs more (boundaries, optional whitespace) has a `pattern`, tried only where `text`'s first part occurs.
 */
export interface SecretForm { name: string; text: string; ignoreCase: boolean; pattern?: RegExp; prefilter?: string }

/** Secrets shorter than this are too short to search for without false positives. */
export const MIN_SECRET_BYTES = 6;
/** Encoded fragments (base64 at an offset) shorter than this are not searched: they would match by chance. */
const MIN_FRAGMENT_CHARS = 6;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const toBytes = (secret: string | Buffer) => (typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret));

/**
 * The base64 text that depends only on `bytes`, when they sit at byte offset 0, 1 or 2 of a longer buffer
 * (modulo 3): the 4-character groups that mix in neighbouring bytes are cut off.
 */
function base64Fragments(bytes: Buffer): Array<{ offset: number; text: string }> {
  const out: Array<{ offset: number; text: string }> = [];
  for (let k = 0; k < 3; k++) {
    const full = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const start = k === 0 ? 0 : 4;
    const end = 4 * Math.floor((k + bytes.length) / 3);
    if (end - start >= MIN_FRAGMENT_CHARS) out.push({ offset: k, text: full.slice(start, end) });
  }
  return out;
}

/** Every form of `secret` the checks search for. Strings are taken as UTF-8 bytes for the byte encodings. */
export function secretForms(secret: string | Buffer): SecretForm[] {
  const bytes = toBytes(secret);
  if (bytes.length < MIN_SECRET_BYTES) throw new Error(`a secret of ${bytes.length} bytes is too short to search for (at least ${MIN_SECRET_BYTES})`);
  const text = typeof secret === 'string' ? secret : bytes.toString('utf8');
  const forms: SecretForm[] = [];
  const literal = (name: string, s: string, ignoreCase = false) => {
    if (!forms.some((f) => !f.pattern && (f.text === s || (f.ignoreCase && ignoreCase && f.text.toLowerCase() === s.toLowerCase())))) {
      forms.push({ name, text: s, ignoreCase });
    }
  };
  const dec = [...bytes];
  const hex = (b: number) => b.toString(16).padStart(2, '0');

  literal('plain text', text);
  if (typeof secret !== 'string') literal('latin1 text', bytes.toString('latin1'));
  literal('JSON-escaped', JSON.stringify(text).slice(1, -1));
  literal('JSON-escaped twice (a JSON string inside a JSON string)', JSON.stringify(JSON.stringify(text).slice(1, -1)).slice(1, -1));
  literal('\\u escapes', [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''), true);
  literal('JSON-escaped \\u escapes', [...text].map((c) => `\\\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''), true);
  literal('percent-encoded (encodeURIComponent)', encodeURIComponent(text));
  literal('percent-encoded (form, spaces as +)', encodeURIComponent(text).replace(/%20/g, '+'));
  literal('percent-encoded (every byte)', dec.map((b) => `%${hex(b)}`).join(''), true);
  literal('hex', bytes.toString('hex'), true);
  literal('hex with spaces (<Buffer 70 61 ...>)', dec.map(hex).join(' '), true);
  literal('hex with colons', dec.map(hex).join(':'), true);
  literal('\\x escapes', dec.map((b) => `\\x${hex(b)}`).join(''), true);
  // Decimal byte lists: a Buffer's toJSON() ({"type":"Buffer","data":[112,97,...]}), Uint8Array/array inspect.
  forms.push({
    name: 'Buffer JSON / byte list (112,97,...)', text: dec.join(','), ignoreCase: false, prefilter: `${dec[0]},`,
    pattern: new RegExp(`(?<![0-9])${dec.join(',\\s*')}(?![0-9])`, 'g'),
  });
  for (const { offset, text: b64 } of base64Fragments(bytes)) {
    const at = offset === 0 ? '' : ` (at byte offset ${offset} mod 3 in a larger buffer)`;
    literal(`base64${at}`, b64);
    literal(`base64url${at}`, b64.replace(/\+/g, '-').replace(/\//g, '_'));
    // base64 inside JSON with escaped slashes, or percent-encoded in a URL
    if (b64.includes('/')) literal(`base64, JSON-escaped slashes${at}`, b64.replace(/\//g, '\\/'));
    if (/[+/]/.test(b64)) literal(`base64, percent-encoded${at}`, encodeURIComponent(b64));
  }
  return forms;
}

/** Start offsets of `form` in `text` (`lower` is text.toLowerCase(), made once by the caller). */
function occurrences(form: SecretForm, text: string, lower: () => string): number[] {
  const out: number[] = [];
  if (form.pattern) {
    if (form.prefilter !== undefined && !text.includes(form.prefilter)) return out;
    form.pattern.lastIndex = 0;
    for (const m of text.matchAll(form.pattern)) out.push(m.index ?? 0);
    return out;
  }
  const hay = form.ignoreCase ? lower() : text;
  const needle = form.ignoreCase ? form.text.toLowerCase() : form.text;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/** The encoded forms of a secret that the checks search for (plain, base64, base64url, hex, byte list, ...). */
export function secretEncodings(secret: string | Buffer): string[] {
  return secretForms(secret).map((f) => f.text);
}

export type Secrets = string | Buffer | Iterable<string | Buffer> | Record<string, string | Buffer>;

interface LabelledSecret { label: string; value: string | Buffer }

function labelled(secrets: Secrets): LabelledSecret[] {
  if (typeof secrets === 'string' || Buffer.isBuffer(secrets)) return [{ label: 'secret #1', value: secrets }];
  if (Symbol.iterator in Object(secrets)) return [...(secrets as Iterable<string | Buffer>)].map((value, i) => ({ label: `secret #${i + 1}`, value }));
  return Object.entries(secrets as Record<string, string | Buffer>).map(([label, value]) => ({ label, value }));
}

export interface SecretMatch { label: string; encoding: string; index: number }

function asText(haystack: unknown): string {
  if (typeof haystack === 'string') return haystack;
  if (Buffer.isBuffer(haystack)) return haystack.toString('latin1');
  return JSON.stringify(haystack, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(haystack);
}

/** A matcher for `secrets`, with their forms worked out once: for hot loops such as the fuzz tests. */
export function secretMatcher(secrets: Secrets): (haystack: unknown) => SecretMatch[] {
  const all = labelled(secrets).map(({ label, value }) => ({ label, forms: secretForms(value) }));
  return (haystack: unknown) => {
    const text = asText(haystack);
    let lowered: string | undefined;
    const lower = () => (lowered ??= text.toLowerCase());
    const found: SecretMatch[] = [];
    for (const { label, forms } of all) {
      for (const f of forms) for (const index of occurrences(f, text, lower)) found.push({ label, encoding: f.name, index });
    }
    return found.sort((a, b) => a.index - b.index);
  };
}

/** Every place where one of the secrets occurs in `haystack` (a string, a Buffer, or anything JSON.stringify takes). */
export function findSecrets(haystack: unknown, secrets: Secrets): SecretMatch[] {
  return secretMatcher(secrets)(haystack);
}

/** `text` with every form of every secret replaced by a marker naming the secret and the encoding. */
export function maskSecrets(haystack: unknown, secrets: Secrets): string {
  let text = asText(haystack);
  for (const { label, value } of labelled(secrets)) {
    // Longest forms first, so a short form does not cut a longer one in two.
    for (const f of secretForms(value).sort((a, b) => b.text.length - a.text.length)) {
      const re = f.pattern ? new RegExp(f.pattern.source, 'g') : new RegExp(escapeRegExp(f.text), f.ignoreCase ? 'gi' : 'g');
      text = text.replace(re, `‹${label} as ${f.name}›`);
    }
  }
  return text;
}

/**
 * Fails when any of `secrets` occurs in `haystack` in any of the forms of secretForms(). `where` names what was
 * searched ("proxy log lines", "audit events", "/metrics", ...). The message never contains a secret: it names
 * the secret's label (the record key, or "secret #n") and the encoding, with the masked surroundings.
 */
export function assertNoSecret(haystack: unknown, secrets: Secrets, where: string): void {
  const found = findSecrets(haystack, secrets);
  if (found.length === 0) return;
  const masked = maskSecrets(haystack, secrets);
  const first = found[0];
  const at = masked.indexOf(`‹${first.label} as `);
  const marker = at >= 0 ? at : Math.max(0, masked.indexOf('‹'));
  const from = Math.max(0, marker - 160);
  const context = masked.slice(from, marker + 240);
  const kinds = [...new Set(found.map((m) => `${m.label} as ${m.encoding}`))];
  assert.fail(`${where}: a secret leaked — ${found.length} occurrence(s): ${kinds.join('; ')}\n`
    + `first occurrence (secrets masked): ${from > 0 ? '…' : ''}${context}${marker + 240 < masked.length ? '…' : ''}`);
}
