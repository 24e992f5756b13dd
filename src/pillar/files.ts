/**
 * Where pillar data lives on disk. An environment is `pillar/<env>.yml` (or a seed-style
 * `pillar/<env>.sls`); `.ops/pillar/<env>.yml` is a generated, git-ignored overlay (lab state).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Repo } from '../repo.js';

/** Files in pillar/ that are shared by all environments, never environments themselves. */
export const SHARED_PILLAR_FILES = ['project', 'devs', 'top'] as const;
const EXTENSIONS = ['.yml', '.yaml', '.sls'] as const;

export function listEnvironments(repo: Repo): string[] {
  let names: string[];
  try {
    names = readdirSync(repo.pillarDir);
  } catch {
    return [];
  }
  const envs = new Set<string>();
  for (const n of names) {
    const ext = EXTENSIONS.find((e) => n.endsWith(e));
    if (!ext) continue;
    const base = n.slice(0, -ext.length);
    if ((SHARED_PILLAR_FILES as readonly string[]).includes(base)) continue;
    if (base.includes('.') || base.startsWith('_')) continue;
    envs.add(base);
  }
  return [...envs].sort();
}

/** The first existing `<dir>/<base>.{yml,yaml,sls}`. */
export function findPillarFile(dir: string, base: string): string | undefined {
  for (const ext of EXTENSIONS) {
    const p = join(dir, `${base}${ext}`);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The files that make up an environment's pillar, lowest precedence first. */
export function environmentFiles(repo: Repo, env: string): string[] {
  const files: string[] = [];
  for (const shared of ['project', 'devs']) {
    const f = findPillarFile(repo.pillarDir, shared);
    if (f) files.push(f);
  }
  const envFile = findPillarFile(repo.pillarDir, env);
  if (envFile) files.push(envFile);
  const overlay = findPillarFile(repo.overlayDir, env);
  if (overlay) files.push(overlay);
  return files;
}

/** `default_environment` from project.yml, read leniently (full validation happens on load). */
export function readDefaultEnvironment(repo: Repo): string | undefined {
  const f = findPillarFile(repo.pillarDir, 'project');
  if (!f) return undefined;
  try {
    const data: unknown = parse(readFileSync(f, 'utf8'));
    if (data && typeof data === 'object' && 'default_environment' in data) {
      const v = (data as Record<string, unknown>).default_environment;
      return typeof v === 'string' && v !== '' ? v : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
