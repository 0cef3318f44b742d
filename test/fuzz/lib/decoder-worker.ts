/**
 * Worker side of the decoder fuzz: runs fuzzMessageVersion over its share of (API, side, version) jobs and
 * posts the stats. Before every input it bumps a heartbeat and copies the input into shared memory, so the
 * watchdog in the test (lib/watchdog.ts) can name the exact input that hung or exhausted the heap.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { API_SCHEMAS } from '../../../protocol/registry.js';
import { fuzzMessageVersion, newStats } from './decoder-fuzz.js';
import { Prng, mix } from './prng.js';
import { Beacon as SharedBeacon } from './watchdog.js';

export interface DecoderJob { apiKey: number; side: 'request' | 'response'; version: number }
export interface DecoderWorkerData { seed: number; jobs: DecoderJob[]; framesPerJob: number; shared: SharedArrayBuffer }

// Stack traces are captured for every DecodeError and would cost two thirds of the run; failures are re-run with them.
Error.stackTraceLimit = 0;

const { seed, jobs, framesPerJob, shared } = workerData as DecoderWorkerData;
const beacon = new SharedBeacon(shared);
const stats = newStats();
const perJob: { job: string; frames: number; ms: number }[] = [];
for (let i = 0; i < jobs.length; i++) {
  const { apiKey, side, version } = jobs[i];
  const schema = API_SCHEMAS.get(apiKey)![side];
  // Each job's cases depend only on the seed and the job, not on which worker runs it.
  const rng = new Prng(mix(seed, `${apiKey}/${side}/${version}`));
  const label = `${schema.name} v${version}`;
  beacon.setLabel(label);
  const before = stats.frames;
  const t0 = performance.now();
  fuzzMessageVersion(rng, schema, version, framesPerJob, stats, (bytes) => beacon.beat(bytes));
  perJob.push({ job: label, frames: stats.frames - before, ms: performance.now() - t0 });
  stats.peakHeapMb = Math.max(stats.peakHeapMb, process.memoryUsage().heapUsed / 1e6);
}
parentPort!.postMessage({ stats, perJob });
