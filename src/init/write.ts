/**
 * Writing a new ops repo's files (ops init, ops import salt): refused before anything is written
 * when a file is there or a folder on the way is a link; the pillar is loaded in a scratch repo
 * first; all or nothing.
 */
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { errorMessage, OperationError, UsageError } from '../errors.js';
import { loadPillar } from '../pillar/load.js';
import { repoAt } from '../repo.js';

export type NewFile = [path: string, content: string | Buffer];

/**
 * Refuses before anything is written: a path to write that exists (a dangling link too), or a
 * folder on its way that is a link (`command` writes inside DIR only) or not a folder.
 */
export function checkWritable(dir: string, files: readonly string[], command: string): void {
  const taken: string[] = [];
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      let st;
      try {
        st = lstatSync(join(dir, rel));
      } catch {
        break; // not there: nothing below it is either
      }
      if (i === parts.length) taken.push(f);
      else if (st.isSymbolicLink()) throw new UsageError(`${rel} in ${dir} is a symbolic link: ${command} writes only inside ${dir}`, 'make it a real folder, or move it away');
      else if (!st.isDirectory()) throw new UsageError(`${rel} in ${dir} is not a folder, and ${command} would write ${f} in it`);
    }
  }
  if (taken.length > 0) throw new UsageError(`${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''} in ${dir}: ${command} never overwrites a file`, 'move it away, or edit the pillar by hand');
}

function writeAt(root: string, file: string, content: string | Buffer): void {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { flag: 'wx' });
}

/** The pillar files (and keys) among `files`, loaded for each of `envs` in a scratch repo: what is written must load. */
export function checkLoads(files: readonly NewFile[], envs: readonly string[]): void {
  const scratch = mkdtempSync(join(tmpdir(), 'ops-new-'));
  try {
    for (const [f, content] of files) if (f.startsWith('pillar/')) writeAt(scratch, f, content);
    for (const env of envs) loadPillar(repoAt(scratch), env);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Writes every file, or none: a write that fails takes back the files written before it. */
export function writeAll(dir: string, files: readonly NewFile[]): void {
  const written: string[] = [];
  try {
    for (const [f, content] of files) {
      writeAt(dir, f, content);
      written.push(f);
    }
  } catch (e) {
    for (const f of written) rmSync(join(dir, f), { force: true });
    throw new OperationError(`cannot write in ${dir}: ${errorMessage(e)}`, 'nothing was left half-written');
  }
}
