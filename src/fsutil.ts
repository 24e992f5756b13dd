/** Safe file writes: atomic replace (temp + rename in the same folder) and create-only. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './errors.js';

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  fsyncSync(fd);
}

export interface PreparedWrite {
  target: string;
  temp: string;
}

/** Writes `data` next to `target` under a temporary name; `commitWrites` renames it into place. */
export function prepareWrite(target: string, data: string | Uint8Array, mode?: number): PreparedWrite {
  mkdirSync(dirname(target), { recursive: true });
  let fileMode = mode;
  if (fileMode === undefined) {
    try {
      fileMode = statSync(target).mode & 0o777;
    } catch {
      fileMode = 0o644;
    }
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', fileMode);
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
  return { target, temp };
}

/** Renames every prepared file into place; if one fails, the rest are discarded. */
export function commitWrites(writes: readonly PreparedWrite[]): void {
  let i = 0;
  try {
    for (; i < writes.length; i++) {
      const w = writes[i];
      if (w) renameSync(w.temp, w.target);
    }
  } finally {
    for (const w of writes.slice(i)) {
      try {
        unlinkSync(w.temp);
      } catch {
        /* already gone */
      }
    }
  }
}

export function discardWrites(writes: readonly PreparedWrite[]): void {
  for (const w of writes) {
    try {
      unlinkSync(w.temp);
    } catch {
      /* already gone */
    }
  }
}

export function writeFileAtomic(target: string, data: string | Uint8Array, mode?: number): void {
  commitWrites([prepareWrite(target, data, mode)]);
}

/** Several files replaced together: all are written under temporary names first, then renamed. */
export function writeFilesAtomic(files: readonly { path: string; text: string | Uint8Array; mode?: number }[]): void {
  const writes: PreparedWrite[] = [];
  try {
    for (const f of files) writes.push(prepareWrite(f.path, f.text, f.mode));
  } catch (e) {
    discardWrites(writes);
    throw e;
  }
  commitWrites(writes);
}

/** Creates a new file; refuses (exit 2) when it exists. */
export function writeNewFile(target: string, data: string | Uint8Array, mode = 0o644, hint?: string): void {
  mkdirSync(dirname(target), { recursive: true });
  let fd: number;
  try {
    fd = openSync(target, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${target} already exists; not overwriting it`, hint);
    throw e;
  }
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}
