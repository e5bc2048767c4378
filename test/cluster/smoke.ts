import { startControlPlane } from './control-plane.js';

/** Starts the control plane, prints how long each part took, checks it works, stops it. */
const started = Date.now();
const cp = await startControlPlane();
console.log('timings (s from start):', cp.timings);
console.log((await cp.kubectl(['get', 'ns'])).stdout);
console.log((await cp.kubectl(['auth', 'can-i', 'create', 'nodes/checkpoint', '--as', 'system:serviceaccount:default:default'], { allowFailure: true })).stdout);
await cp.stop();
console.log(`total ${((Date.now() - started) / 1000).toFixed(1)}s`);
