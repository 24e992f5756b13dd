/** Overlay mounts of host roots, and removing folders that may still have something mounted inside. */
import { existsSync, readFileSync } from 'node:fs';
import { OperationError } from '../errors.js';
import { run, tryRun } from './exec.js';

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  let text = '';
  try {
    text = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    const mnt = line.split(' ')[1];
    if (!mnt) continue;
    const p = unescapeMount(mnt);
    if (p === base || p.startsWith(`${base}/`)) found.add(p);
  }
  return [...found].sort((a, b) => b.length - a.length);
}

export function isMounted(path: string): boolean {
  return mountsUnder(path).includes(path.replace(/\/+$/, ''));
}

/** Unmounts everything at or below `dir` (lazily when a mount is busy). */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const list = mountsUnder(dir);
    if (list.length === 0) return;
    for (const m of list) {
      const r = await tryRun('umount', [m]);
      if (r.code !== 0) await tryRun('umount', ['-l', m]);
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new OperationError(`cannot unmount ${left.join(', ')}`);
}

/** Removes a folder tree after unmounting whatever is mounted inside it; never crosses into another file system. */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await unmountUnder(dir);
  const r = await tryRun('rm', ['-rf', '--one-file-system', '--', dir]);
  if (r.code !== 0 && existsSync(dir)) {
    throw new OperationError(`cannot remove ${dir}: ${r.stderr.trim()}`);
  }
}

/** Mounts an overlay of `lowers` (top first) under `upper` at `target`. */
export async function mountOverlay(lowers: readonly string[], upper: string, work: string, target: string): Promise<void> {
  if (lowers.length === 0) throw new OperationError('an overlay needs at least one lower layer');
  for (const p of [...lowers, upper, work, target]) {
    if (/[,:\\\s]/.test(p)) throw new OperationError(`overlay path with unsupported characters: ${p}`);
  }
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`, target]);
}
