// other-sites.ts: a shop whose pages live on other origins than its API. One list, for every
// browser door (the Socket.IO handshake and every route of fete.express()); a request carrying
// any other site's Origin, `Origin: null` included, is refused 403 FORBIDDEN before `auth` runs.
import { createFete, type StoreOption } from 'fete/server';
import { topics } from './topics.js';

export function startApi(sessions: Map<string, { id: string }>, store: StoreOption = 'postgres://localhost/app') {
  return createFete({
    topics,
    store,
    security: {
      // A session cookie: what another site's page would send too, hence the list below.
      auth: ({ headers }) => sessions.get(/(?:^|;\s*)sid=([\w-]+)/.exec(headers.cookie ?? '')?.[1] ?? ''),
      origins: ['https://shop.example', /^https:\/\/[a-z]+\.shop\.example$/],
    },
  });
}
