/** Worker side of the frame reader fuzz (see lib/frame-fuzz.ts and lib/watchdog.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { fuzzFrames, newFrameStats } from './frame-fuzz.js';
import { Prng, mix } from './prng.js';
import { Beacon } from './watchdog.js';

Error.stackTraceLimit = 0;
const { seed, index, frames, shared } = workerData as { seed: number; index: number; frames: number; shared: SharedArrayBuffer };
const beacon = new Beacon(shared);
beacon.setLabel(`frame reader worker ${index}`);
const stats = newFrameStats();
fuzzFrames(new Prng(mix(seed, `frames/${index}`)), frames, stats, (stream) => beacon.beat(stream));
parentPort!.postMessage(stats);
