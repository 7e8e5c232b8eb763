// Readers of the HTTP presence door for the presence tests: a presence watch over SSE (GET
// /fete/presence with Accept: text/event-stream), an event stream (GET /fete/stream) held open as
// a member, and the JSON snapshot. Every reader records what it got; `close()` aborts it.
import type { PresenceChange, PresenceMember } from '../../shared/index.js';
import { readSseBlocks } from '../support/sse-blocks.js';

export interface SseBlock {
  event: string | undefined;
  data: string | undefined;
  id: string | undefined;
}

function parse(block: string): SseBlock {
  const out: SseBlock = { event: undefined, data: undefined, id: undefined };
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) out.event = line.slice(7);
    else if (line.startsWith('data: ')) out.data = line.slice(6);
    else if (line.startsWith('id: ')) out.id = line.slice(4);
  }
  return out;
}

export interface OpenedSse {
  status: number;
  /** The JSON error body of a refused request. */
  error: { code: string; message: string } | undefined;
  blocks: SseBlock[];
  /** Resolves when the server ended the body (or the reader was closed). */
  ended: Promise<void>;
  close(): void;
}

const headersOf = (who: { user: string; tenant?: string }) => ({ 'x-user': who.user, ...(who.tenant === undefined ? {} : { 'x-tenant': who.tenant }) });

/** Opens an SSE request as `who`; a refused one (not 200) is read as JSON and closed. */
export async function openSse(url: string, who: { user: string; tenant?: string }): Promise<OpenedSse> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headersOf(who) }, signal: abort.signal });
  const blocks: SseBlock[] = [];
  if (res.status !== 200) {
    const body = (await res.json()) as { error: { code: string; message: string } };
    return { status: res.status, error: body.error, blocks, ended: Promise.resolve(), close: () => undefined };
  }
  const ended = readSseBlocks(res.body!, (b) => void blocks.push(parse(b))).catch(() => undefined);
  return { status: res.status, error: undefined, blocks, ended, close: () => abort.abort() };
}

/** A presence watch over SSE: its snapshots and changes as they came. */
export class SsePresenceWatch {
  constructor(readonly opened: OpenedSse) {}

  /** The `snapshot` events' members, in order. */
  get snapshots(): PresenceMember[][] {
    return this.opened.blocks.filter((b) => b.event === 'snapshot').map((b) => (JSON.parse(b.data!) as { members: PresenceMember[] }).members);
  }

  /** The `join` / `leave` / `update` events' data, in order. */
  get changes(): PresenceChange[] {
    return this.opened.blocks.filter((b) => b.event === 'join' || b.event === 'leave' || b.event === 'update').map((b) => JSON.parse(b.data!) as PresenceChange);
  }

  close(): void {
    this.opened.close();
  }
}

export async function watchOverSse(base: string, pattern: string, who: { user: string; tenant?: string }): Promise<SsePresenceWatch> {
  return new SsePresenceWatch(await openSse(`${base}/fete/presence?pattern=${encodeURIComponent(pattern)}`, who));
}

/** GET /fete/presence as JSON. */
export async function presenceJson(base: string, pattern: string, who: { user: string; tenant?: string }): Promise<{ status: number; body: { members?: PresenceMember[]; error?: { code: string } } }> {
  const res = await fetch(`${base}/fete/presence?pattern=${encodeURIComponent(pattern)}`, { headers: headersOf(who) });
  return { status: res.status, body: (await res.json()) as { members?: PresenceMember[]; error?: { code: string } } };
}

/** GET /fete/stream on `pattern` (a member when it is a presence subject), with `presence` as given. */
export function streamOver(base: string, pattern: string, who: { user: string; tenant?: string }, presence?: string): Promise<OpenedSse> {
  const q = presence === undefined ? '' : `&presence=${encodeURIComponent(presence)}`;
  return openSse(`${base}/fete/stream?pattern=${encodeURIComponent(pattern)}${q}`, who);
}
