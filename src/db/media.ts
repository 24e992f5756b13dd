/**
 * `--with-media`: the app's media folder streamed as a tar archive from the source's first web
 * host into `<media>.incoming-<stamp>` on each target web host (or a local folder), swapped in
 * with the database (`<media>` → `<media>.before-<stamp>`, the newest 3 kept), removed again on
 * a failure before the swap. Scripts are constant text; paths travel as their arguments.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OperationError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import { appPaths, appUser } from '../roles/app.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import type { Connection } from '../ssh/connection.js';
import { selectTargets } from '../core/targets.js';
import type { SshSession } from '../ssh/session.js';
import type { Output } from '../ui/output.js';
import { ByteProgress } from '../ui/progress.js';
import { KEEP_BEFORE } from './names.js';
import { localProc, relay, remoteProc } from './stream.js';

/** What a replace does with files besides the database: before the swap, at it, on failure. */
export interface SideCopy {
  prepare(signal: AbortSignal): Promise<void>;
  swap(): Promise<void>;
  discard(): Promise<void>;
}

const EXTRACT = 'rm -rf "$1" && mkdir -p "$1" && tar -x -f - --no-same-owner -C "$1" && chown -R "$2:" "$1"';
const SWAP = 'set -e; test -d "$1.incoming-$2"; if [ -e "$1" ]; then mv "$1" "$1.before-$2"; fi; mv "$1.incoming-$2" "$1"; ls -1d "$1".before-* 2>/dev/null | sort -r | tail -n +$(($3 + 1)) | while read -r d; do rm -rf "$d"; done';
const DISCARD = 'rm -rf "$1.incoming-$2"';

const asRoot = (conn: Connection, argv: string[]) => renderCommand({ argv }, { sudo: true }, { loginUser: conn.user });

/** The first web host of an environment (media lives there). */
export function mediaHost(pillar: LoadedPillar, user: string | undefined) {
  return selectTargets(pillar, { role: 'web', user })[0];
}

function tarFrom(conn: Connection, media: string) {
  return remoteProc(conn, asRoot(conn, ['tar', '-c', '-f', '-', '-C', media, '.']), 'tar of the media');
}

/** Media from the source's first web host onto every web host of the target environment. */
export function remoteMedia(out: Output, session: SshSession, from: LoadedPillar, to: LoadedPillar, user: string | undefined, ts: string): SideCopy {
  const src = mediaHost(from, user);
  const targets = selectTargets(to, { role: 'web', user });
  const media = appPaths(to.data).media;
  const owner = appUser(to.data);
  const sourceMedia = appPaths(from.data).media;
  const each = async (argv: (conn: Connection) => string[]) => {
    for (const t of targets) {
      const conn = await session.connect(t);
      const r = await captureExec(conn, asRoot(conn, argv(conn)));
      if (r.code !== 0) throw new OperationError(`${t.name}: media: ${r.err.trim() || `exit ${r.code}`}`);
    }
  };
  return {
    async prepare(signal) {
      if (!src) throw new OperationError('--with-media: the source environment has no web host');
      const srcConn = await session.connect(src);
      for (const t of targets) {
        const conn = await session.connect(t);
        const progress = new ByteProgress(out, `media ${src.name} → ${t.name}`);
        const sink = await remoteProc(conn, asRoot(conn, ['sh', '-c', EXTRACT, 'sh', `${media}.incoming-${ts}`, owner]), 'unpacking the media');
        await relay(await tarFrom(srcConn, sourceMedia), sink, { onBytes: (n) => progress.update(n), signal });
        out.info(`media ${src.name} → ${t.name}: ${progress.finish()}`);
      }
    },
    swap: () => each(() => ['sh', '-c', SWAP, 'sh', media, ts, String(KEEP_BEFORE)]),
    discard: () => each(() => ['sh', '-c', DISCARD, 'sh', media, ts]).catch(() => undefined),
  };
}

/** Media from the environment's first web host into a folder on this machine. */
export function localMedia(out: Output, session: SshSession, from: LoadedPillar, user: string | undefined, folder: string, ts: string): SideCopy {
  const dir = resolve(folder);
  const incoming = `${dir}.incoming-${ts}`;
  return {
    async prepare(signal) {
      const src = mediaHost(from, user);
      if (!src) throw new OperationError('--with-media: the environment has no web host');
      const conn = await session.connect(src);
      rmSync(incoming, { recursive: true, force: true });
      mkdirSync(incoming, { recursive: true });
      const progress = new ByteProgress(out, `media ${src.name} → ${folder}`);
      // the source first: a sink started before a source that fails to start would be left running
      const source = await tarFrom(conn, appPaths(from.data).media);
      const sink = localProc(['tar', '-x', '-f', '-', '--no-same-owner', '-C', incoming], 'local tar');
      await relay(source, sink, { onBytes: (n) => progress.update(n), signal });
      out.info(`media ${src.name} → ${folder}: ${progress.finish()}`);
    },
    async swap() {
      if (existsSync(dir)) renameSync(dir, `${dir}.before-${ts}`);
      renameSync(incoming, dir);
      const prefix = `${basename(dir)}.before-`;
      const old = readdirSync(dirname(dir))
        .filter((n) => n.startsWith(prefix))
        .sort()
        .reverse()
        .slice(KEEP_BEFORE);
      for (const n of old) rmSync(join(dirname(dir), n), { recursive: true, force: true });
    },
    async discard() {
      rmSync(incoming, { recursive: true, force: true });
    },
  };
}
