/**
 * Loads an environment's pillar: project.yml + devs.yml + <env>.yml (+ the generated overlay
 * .ops/pillar/<env>.yml), merged with the environment winning, validated once, up front.
 */
import { ZodDefault, ZodObject, ZodOptional, ZodRecord, type z } from 'zod';
import { UsageError } from '../errors.js';
import type { Repo } from '../repo.js';
import { environmentFiles, findPillarFile, listEnvironments } from './files.js';
import { checkEnvironmentName } from './forms.js';
import { deepMerge } from './merge.js';
import { pillarSchema, ROLE_ALIASES, type Pillar } from './schema.js';
import { formatPath, loadPillarFile, locate, PillarError, type KeyPath, type PillarSource } from './source.js';

export interface LoadedPillar {
  env: string;
  /** Validated, merged data; roles normalised (aliases resolved); `protected` resolved. */
  data: Pillar & { protected: boolean | string };
  /** Merged data before defaults were applied (what the files say). */
  raw: Record<string, unknown>;
  sources: PillarSource[];
  /** The committed environment file (pillar/<env>.yml or .sls). */
  envFile: string;
}

export function loadPillar(repo: Repo, env: string): LoadedPillar {
  checkEnvironmentName(env);
  const envFile = findPillarFile(repo.pillarDir, env);
  if (!envFile) {
    throw new UsageError(`unknown environment '${env}': there is no pillar/${env}.yml`, `environments: ${listEnvironments(repo).join(', ') || 'none'}`);
  }
  const sources = environmentFiles(repo, env).map((f) => loadPillarFile(f, repo.root));
  let raw: Record<string, unknown> = {};
  for (const s of sources) raw = deepMerge(raw, s.value);
  return { env, data: validatePillar(raw, sources, envFile, env), raw, sources, envFile };
}

/** Validates merged pillar data (as loaded, or after decryption) into the typed contract. */
export function validatePillar(raw: Record<string, unknown>, sources: PillarSource[], envFile: string, env: string): LoadedPillar['data'] {
  const parsed = pillarSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw issueToError(parsed.error.issues, sources, envFile, '');
  const data = parsed.data;
  for (const server of Object.values(data.servers)) {
    server.roles = [...new Set(server.roles.map((r) => ROLE_ALIASES[r] ?? r))];
  }
  return { ...data, protected: data.protected ?? env === 'production' };
}

/** The first schema problem as one precise error: file:line:col, key path, what and how to fix. */
function issueToError(issues: z.core.$ZodIssue[], sources: PillarSource[], envFile: string, root: string): PillarError {
  const issue = issues[0];
  if (!issue) return new PillarError(envFile, undefined, 'invalid pillar');
  let path: KeyPath = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  let message = issue.message;
  let preferKey = false;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    path = [...path, key];
    preferKey = true;
    const allowed = keysAt(issue.path);
    message = `unknown key '${key}'${suggest(key, issue.path)}`;
    if (allowed.length > 0 && !message.includes('did you mean')) message += ` (allowed: ${allowed.join(', ')})`;
  } else if (issue.code === 'invalid_key') {
    // a record's key: its own rule, at the key
    message = issue.issues[0]?.message ?? message;
    preferKey = true;
  } else if (issue.code === 'custom' && (issue.params as { atKey?: boolean } | undefined)?.atKey) {
    preferKey = true;
  } else if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = `required key is missing (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_type') {
    message = `expected ${issue.expected}, got ${describe(issue.input)}`;
  } else if (issue.code === 'invalid_union') {
    message = 'expected a value of the right type, or an encrypted block';
  }
  // The file that defines the deepest part of the path explains the value best (later files win ties).
  let best: { pos: { file: string; line: number; col: number }; depth: number } | undefined;
  for (const s of sources) {
    const at = locate(s, path, preferKey);
    if (!best || at.depth >= best.depth) best = at;
  }
  if (!best || best.depth === 0) {
    const envSrc = sources.find((s) => s.path === envFile);
    const where = envSrc ? { file: envSrc.display, line: 1, col: 1 } : envFile;
    return new PillarError(where, path, message, missingHint(path, root));
  }
  return new PillarError(best.pos, path, message);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function missingHint(path: KeyPath, _root: string): string | undefined {
  if (formatPath(path) === 'project') return 'add `project: <name>` to pillar/project.yml';
  return undefined;
}

/** Keys the schema allows at `parent` (objects reached through defaults, optionals and records). */
function keysAt(parent: readonly PropertyKey[]): string[] {
  let t: z.ZodType = pillarSchema;
  for (const seg of [...parent, undefined]) {
    for (;;) {
      if (t instanceof ZodDefault || t instanceof ZodOptional) t = t.unwrap() as z.ZodType;
      else break;
    }
    if (seg === undefined) break;
    if (t instanceof ZodObject) t = (t.shape as Record<string, z.ZodType>)[String(seg)] ?? t;
    else if (t instanceof ZodRecord) t = t.valueType as z.ZodType;
    else return [];
  }
  return t instanceof ZodObject ? Object.keys(t.shape) : [];
}

function suggest(key: string, parent: readonly PropertyKey[]): string {
  const candidates = keysAt(parent);
  let bestKey = '';
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(key, c);
    if (d < bestDist) {
      bestDist = d;
      bestKey = c;
    }
  }
  return bestDist <= 2 ? ` (did you mean '${bestKey}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] ?? 0;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] ?? 0;
      dp[j] = Math.min((dp[j] ?? 0) + 1, (dp[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] ?? 0;
}
