/**
 * `npm run test:unit`: every test file that needs no Kafka, found rather than listed: a file is a unit test unless
 * it imports (or runs as a child process), directly or through other modules of the repo,
 * test/harness/kafka-cluster.ts (the module that starts brokers). Runs them with node:test, as `npm test` runs everything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const CLUSTER = join(root, 'test', 'harness', 'kafka-cluster.ts');

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'harness' ? [] : testFiles(p);
    return name.endsWith('.test.ts') ? [p] : [];
  }).sort();
}

/** Relative imports of a module, as files (".js" specifiers name the ".ts" source). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    if (existsSync(target)) out.push(target);
  }
  // Scripts a test runs as a child process ('bench/soak.ts') count as imports too.
  for (const m of text.matchAll(/['"]((?:bench|src|scripts|test)\/[\w/.-]+\.ts)['"]/g)) {
    const target = join(root, m[1]);
    if (existsSync(target)) out.push(target);
  }
  return out;
}

const needsKafka = new Map<string, boolean>();
function startsKafka(file: string, path = new Set<string>()): boolean {
  if (file === CLUSTER) return true;
  const known = needsKafka.get(file);
  if (known !== undefined) return known;
  if (path.has(file)) return false;
  path.add(file);
  const result = imports(file).some((f) => startsKafka(f, path));
  path.delete(file);
  needsKafka.set(file, result);
  return result;
}

const units = testFiles(join(root, 'test')).filter((f) => !startsKafka(f)).map((f) => relative(root, f));
process.stderr.write(`${units.length} unit test files (no Kafka): ${units.join(' ')}\n`);
const r = spawnSync(process.execPath, ['--test', '--import', 'tsx', ...units], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
