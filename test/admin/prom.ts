/** A small parser for the Prometheus text exposition format, enough for the admin tests. */

export interface Sample { name: string; labels: Record<string, string>; value: number }

export interface Scrape {
  samples: Sample[];
  /** Metric family name → TYPE line value (counter, gauge, histogram, ...). */
  types: Map<string, string>;
  /** Every sample whose name and labels match (labels given must be equal; others are ignored). */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** Sum of the values of find(name, labels); 0 when none. */
  sum(name: string, labels?: Record<string, string>): number;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}

export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const raw = m[3];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2].slice(1, -1)) : {}, value });
  }
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return { samples, types, find, sum: (name, labels) => find(name, labels).reduce((a, s) => a + s.value, 0) };
}
