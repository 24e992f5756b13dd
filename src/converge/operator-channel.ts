/**
 * A deploy's line back to the operator's ops, for hooks that are tasks (they run on the operator's
 * machine while the master holds the deploy lock). The operator sends `ops-snapshot <bytes>\n`, the
 * repo snapshot, then keeps stdin open; the master asks with a `hook_request` event on stdout and
 * the operator answers with one JSON line on stdin: {"id": n, "ok": true} or {"id": n, "ok": false, "error": "…"}.
 */
import type { Readable } from 'node:stream';
import { OperationError, UsageError } from '../errors.js';

const HEAD = 'ops-snapshot ';
const MAX_SNAPSHOT = 256 * 1024 * 1024;

export class OperatorChannel {
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private next = 1;
  private rest = '';
  private gone = false;

  constructor(
    input: Readable,
    private readonly emit: (type: string, data: Record<string, unknown>) => void,
    first: Buffer,
  ) {
    const end = () => {
      this.gone = true;
      for (const p of this.pending.values()) p.reject(new OperationError("the operator's ops went away before the hook ran"));
      this.pending.clear();
    };
    input.on('data', (b: Buffer) => this.feed(b.toString('utf8')));
    input.once('end', end);
    input.once('close', end);
    if (first.length > 0) this.feed(first.toString('utf8'));
  }

  private feed(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.trim()) continue;
      let m: { id?: number; ok?: boolean; error?: string };
      try {
        m = JSON.parse(l) as typeof m;
      } catch {
        continue;
      }
      const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (!p) continue;
      this.pending.delete(m.id as number);
      if (m.ok === true) p.resolve();
      else p.reject(new OperationError(String(m.error ?? 'the task failed')));
    }
  }

  /** Has the operator run task `name` for `point`; resolves when it succeeded; an abort (a signal, the operator gone) rejects it. */
  task(name: string, point: string, signal?: AbortSignal): Promise<void> {
    if (this.gone) return Promise.reject(new OperationError("the operator's ops is gone: the task hook cannot run"));
    if (signal?.aborted) return Promise.reject(new OperationError('interrupted before the task hook ran'));
    const id = this.next++;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        reject(new OperationError(`interrupted while the operator ran task ${name}`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: () => (done(), resolve()),
        reject: (e) => (done(), reject(e)),
      });
      this.emit('hook_request', { id, task: name, point });
    });
  }
}

/** Reads the framed snapshot from `input`; what follows it is the channel's. */
export function readFramed(input: Readable, emit: (type: string, data: Record<string, unknown>) => void): Promise<{ archive: Buffer; channel: OperatorChannel }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      const nl = buf.indexOf(10);
      if (nl < 0) {
        if (buf.length > 64) fail(new UsageError('the deploy stream does not start with a snapshot header'));
        return;
      }
      const head = buf.subarray(0, nl).toString('utf8');
      const size = head.startsWith(HEAD) ? Number(head.slice(HEAD.length)) : NaN;
      if (!Number.isInteger(size) || size < 0 || size > MAX_SNAPSHOT) return fail(new UsageError('the deploy stream does not start with a snapshot header'));
      if (buf.length - nl - 1 < size) return;
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      const archive = Buffer.from(buf.subarray(nl + 1, nl + 1 + size));
      resolve({ archive, channel: new OperatorChannel(input, emit, buf.subarray(nl + 1 + size)) });
    };
    const onEnd = () => fail(new UsageError('the deploy stream ended inside the snapshot'));
    const fail = (e: Error) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      reject(e);
    };
    input.on('data', onData);
    input.once('end', onEnd);
  });
}

/** The operator's side: the header and snapshot to write first. */
export function framedSnapshot(archive: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${HEAD}${archive.length}\n`), archive]);
}
