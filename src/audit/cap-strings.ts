/**
 * Client-controlled strings (client ids, software names, user names from failed logins, resource names) can be
 * as long as the protocol allows, and JSON escaping makes a control character six bytes. Capped before they are
 * written anywhere, they cannot make an event too large for the audit topic (which would stop the spool's
 * replay behind it) or a write-ahead record too large to write.
 */

/** A copy of `value` in which every string longer than `max` characters is cut, with the cut said in the string. */
export function capStrings<T>(value: T, max: number): T {
  return hasLong(value, max) ? cap(value, max) as T : value; // the common case copies nothing
}

function hasLong(v: unknown, max: number): boolean {
  if (typeof v === 'string') return v.length > max;
  if (Array.isArray(v)) return v.some((x) => hasLong(x, max));
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const x of Object.values(v)) if (hasLong(x, max)) return true;
  }
  return false;
}

function cap(v: unknown, max: number): unknown {
  if (typeof v === 'string') return v.length <= max ? v : `${v.slice(0, max)}…[${v.length - max} characters cut]`;
  if (Array.isArray(v)) return v.map((x) => cap(x, max));
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = cap(x, max);
    return out;
  }
  return v;
}
