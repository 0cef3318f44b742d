/**
 * Preload: counts Buffer.allocUnsafeSlow calls by size (the proxy's reused read buffers, src/proxy/reused-reads.ts,
 * take a fresh one whenever the last chunk is still referenced) and prints the counts every 5 s to stderr
 * (bench/out/compare-NAME.log).   npx tsx bench/compare.ts a=src/cli.ts+bench/experiments/count-fresh-buffers.ts
 */
const counts = new Map<number, number>();
const original = Buffer.allocUnsafeSlow;
Buffer.allocUnsafeSlow = (size: number) => { counts.set(size, (counts.get(size) ?? 0) + 1); return original(size); };
setInterval(() => process.stderr.write(`fresh buffers: ${[...counts].map(([s, n]) => `${s} B x ${n}`).join(', ')}\n`), 5000).unref();
