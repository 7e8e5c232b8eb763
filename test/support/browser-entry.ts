// The entry of the browser build used by tests and benchmarks: `fete/client`, plus zod so a page
// can declare the same catalogue as its server, plus idb for benchmark baselines.
export * from '../../client/index.js';
export { z } from 'zod';
export { openDB } from 'idb';
