// The HTTP layer of the server: `createExpressMiddleware` (what `fete.express()` returns) and its
// option types. Routes, formats and status codes are documented in express-middleware.ts.
export { createExpressMiddleware, type FeteRouter, type HttpTarget } from './express-middleware.js';
export type { ExpressOptions, InspectorOptions, RequestGuard, StreamOptions } from './options.js';
