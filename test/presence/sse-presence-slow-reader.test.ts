// A presence watcher over SSE that stops reading must not make the server queue every change for
// it (nothing ends such a stream: no heartbeat answer is expected). Past `stream.maxBufferedBytes`
// the stream drops changes and, once the reader drains, sends a fresh `snapshot` of the members
// (http/presence-sse-stream.ts): the reader ends up with every member, having received far fewer
// frames than there were changes.
import { createServer, type Server as HttpServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import type { PresenceMember } from '../../shared/index.js';
import { security, topics, type Topics, until } from './fixtures.js';

const opened: Array<{ fete: Fete<Topics, 'inline'>; http: HttpServer; close(): void }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.close();
    await o.fete.stop({ drain: false });
    o.http.closeAllConnections();
    await new Promise((r) => o.http.close(r));
  }
});

const MEMBERS = 50;
const ROUNDS = 400;
/** About 1 KB per change frame: 20,000 changes are ~20 MB, more than the kernel's socket buffers,
 * while a snapshot of the 50 members is ~50 KB. */
const STATE = 'x'.repeat(1000);

/** Replays the watch's messages in order as they arrive: the members it ends up with, by id,
 * with their state, and how many snapshots and changes it got. */
class Replay {
  readonly members = new Map<string, unknown>();
  snapshots = 0;
  changes = 0;
  #buffer = '';

  add(text: string): void {
    this.#buffer += text;
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const lines = this.#buffer.slice(0, end).split('\n');
      this.#buffer = this.#buffer.slice(end + 2);
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (event === undefined || data === undefined) continue;
      if (event === 'snapshot') {
        this.snapshots++;
        this.members.clear();
        for (const m of (JSON.parse(data) as { members: PresenceMember[] }).members) this.members.set(m.id, m.state);
        continue;
      }
      this.changes++;
      const { member } = JSON.parse(data) as { member: PresenceMember };
      if (event === 'leave') this.members.delete(member.id);
      else this.members.set(member.id, member.state);
    }
  }
}

describe('a presence watcher over SSE that stops reading', () => {
  it('is sent a fresh snapshot once it reads again, not every change it missed, and ends up with every member', async () => {
    const fete = await createFete({ topics, security, dispatch: 'inline', logger: false, presence: { heartbeatMs: 50, ttlMs: 300 } });
    const router = fete.express({ stream: { maxBufferedBytes: 64 * 1024 } });
    const http = createServer(express().use('/fete', router));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as AddressInfo).port;
    const tcp = net.connect(port, '127.0.0.1');
    opened.push({ fete, http, close: () => (tcp.destroy(), router.close()) });
    await new Promise((r) => tcp.once('connect', r));
    const seen = new Replay();
    tcp.setEncoding('utf8');
    tcp.on('data', (d: string) => seen.add(d));
    tcp.write(`GET /fete/presence?pattern=rooms.r1.chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nx-user: watcher\r\n\r\n`);
    await until(() => seen.snapshots === 1, 'the snapshot');

    tcp.pause();
    // Members join and change their state through the hub every door's connections go through
    // (presence-hub.ts); a round at a time, since changes of one member in one tick coalesce.
    const hub = fete.presenceService.hub;
    const conns = Array.from({ length: MEMBERS }, () => ({}));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < MEMBERS; i++) hub.join(conns[i]!, { tenant: '', subject: 'rooms.r1.chat', member: `m${i}` }, JSON.stringify(`${round} ${STATE}`));
      await hub.flushed();
    }
    await new Promise((r) => setTimeout(r, 200));
    tcp.resume();

    const last = `${ROUNDS - 1} ${STATE}`;
    await until(() => seen.members.size === MEMBERS && [...seen.members.values()].every((state) => state === last), 'every member with its last state');
    expect(seen.snapshots).toBeGreaterThanOrEqual(2);
    expect(seen.changes).toBeLessThan(MEMBERS * ROUNDS);
  }, 120_000);
});
