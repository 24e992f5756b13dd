/**
 * Progress of a long byte stream: on a terminal one line on stderr, rewritten (bytes, MB/s);
 * with --json a `progress` event each second; otherwise nothing until the end.
 */
import type { Output } from './output.js';

export class ByteProgress {
  private readonly started = Date.now();
  private last = 0;
  private bytes = 0;
  private readonly tty = Boolean(process.stderr.isTTY);
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly label: string,
  ) {}

  update(bytes: number): void {
    this.bytes = bytes;
    const now = Date.now();
    if (this.out.json) {
      if (now - this.last < 1000) return;
      this.last = now;
      this.out.event('progress', { what: this.label, bytes });
      return;
    }
    if (!this.tty || this.out.quiet || now - this.last < 250) return;
    this.last = now;
    this.drawn = true;
    process.stderr.write(`\r\x1b[K${this.label}: ${humanBytes(bytes)}, ${rate(bytes, now - this.started)}`);
  }

  /** Clears the live line; returns the summary (`412 MB in 25.3 s, 16.3 MB/s`). */
  finish(): string {
    if (this.drawn) process.stderr.write('\r\x1b[K');
    const ms = Date.now() - this.started;
    return `${humanBytes(this.bytes)} in ${(ms / 1000).toFixed(1)} s, ${rate(this.bytes, ms)}`;
  }

  get seconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}

export function rate(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / Math.max(ms / 1000, 0.001)).toFixed(1)} MB/s`;
}

/** Sizes as people read them: 0 B, 512 KB, 35.2 MB, 2.01 GB. */
export function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}
