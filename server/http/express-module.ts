// express is an optional peer dependency: only `fete.express()` uses it, so it is loaded when the
// router is made, not when `fete/server` is imported. An app that never mounts the router does
// not need express installed; one that does gets a clear error if it is missing.
import { createRequire } from 'node:module';
import type express from 'express';
import { FeteError } from '../../shared/index.js';

let loaded: typeof express | undefined;

/** The express module (express 5 is CommonJS: required, not imported). Throws INVALID_OPTIONS
 * naming the package when it is not installed. */
export function expressModule(): typeof express {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)('express') as typeof express;
  } catch (err) {
    throw new FeteError('INVALID_OPTIONS', 'fete.express() needs the express package (an optional peer dependency of fete): npm install express', {
      cause: err,
    });
  }
  return loaded;
}
