/**
 * Operations on one environment's encrypted pillar values, shared by the secret commands:
 * where they are written, and how they are named for the operator.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findPillarFile } from '../pillar/files.js';
import { formatPath, readPillarText, type KeyPath } from '../pillar/source.js';
import type { Repo } from '../repo.js';
import { publicKeyCandidates } from './keyfiles.js';

/**
 * Secrets live next to the key they are encrypted to: an environment whose key was generated
 * into the lab overlay (.ops/pillar/keys) keeps its secrets in .ops/pillar/<env>.yml; every
 * other environment in pillar/<env>.yml.
 */
export function secretsFile(repo: Repo, env: string): string {
  const overlayKey = publicKeyCandidates(repo, env)[0];
  if (overlayKey && existsSync(overlayKey)) return findPillarFile(repo.overlayDir, env) ?? join(repo.overlayDir, `${env}.yml`);
  return findPillarFile(repo.pillarDir, env) ?? join(repo.pillarDir, `${env}.yml`);
}

/** A pillar file's text ('' when it does not exist yet), read with the limits of every pillar file. */
export function readTextOrEmpty(path: string, root: string): string {
  return readPillarText(path, root) ?? '';
}

/** The name an operator uses for an encrypted value: `KEY` under secrets, the dotted path elsewhere. */
export function secretName(path: KeyPath): string {
  if (path.length === 2 && path[0] === 'secrets') return String(path[1]);
  return formatPath(path);
}
