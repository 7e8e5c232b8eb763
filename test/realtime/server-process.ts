// A fete web server in a child process (fanout-server-child.ts), seen from the test: spawned
// through tsx with an IPC channel, its port from the `ready` message, commands and their replies.
import { fileURLToPath } from 'node:url';
import { IpcChild } from '../support/ipc-child.js';
import type { ChildCommand, ChildConfig, ChildReply } from './fanout-server-child.js';

const script = fileURLToPath(new URL('./fanout-server-child.ts', import.meta.url));

export class ServerProcess extends IpcChild<ChildCommand, ChildReply> {
  constructor(config: ChildConfig) {
    super(script, [JSON.stringify(config)], { label: 'server process' });
  }

  /** Asks the child to stop fete and exit; SIGKILL if it has not within 10 s. */
  async stop(): Promise<void> {
    this.send({ type: 'stop' });
    await this.kill(10_000);
  }
}
