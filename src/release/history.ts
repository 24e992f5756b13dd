/**
 * The environment's release history, kept on the master (/var/lib/ops/<env>/releases.json):
 * every release attempt with commit, branch, who and when, the migrations it applied and how it
 * ended. `ops releases` lists it; `ops rollback` reads it to warn about migrations.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redactor } from '../ui/redact.js';

export interface ReleaseRecord {
  id: string;
  commit: string;
  branch: string;
  inputs: string;
  by: string;
  at: string;
  status: 'ok' | 'failed' | 'rolled-back' | 'interrupted';
  /** Migrations this release applied (app.name lines of `showmigrations --plan`). */
  migrations: string[];
  hosts: string[];
  detail?: string;
  health?: string;
}

export interface History {
  releases: ReleaseRecord[];
  /** Switches made by `ops rollback`, newest last. */
  rollbacks: { from?: string; to: string; by: string; at: string }[];
}

const MAX = 100;

export function historyFile(workDir: string): string {
  return join(workDir, 'releases.json');
}

export function readHistory(workDir: string): History {
  const f = historyFile(workDir);
  if (!existsSync(f)) return { releases: [], rollbacks: [] };
  const h = JSON.parse(readFileSync(f, 'utf8')) as Partial<History>;
  return { releases: h.releases ?? [], rollbacks: h.rollbacks ?? [] };
}

export function writeHistory(workDir: string, h: History): void {
  const f = historyFile(workDir);
  const tmp = `${f}.tmp`;
  // what a failed step printed may hold a value the master decrypted: the history keeps it redacted
  const json = JSON.stringify({ releases: h.releases.slice(-MAX), rollbacks: h.rollbacks.slice(-MAX) }, (_k, v: unknown) => (typeof v === 'string' ? redactor.redact(v) : v), 1);
  writeFileSync(tmp, `${json}\n`, { mode: 0o600 });
  renameSync(tmp, f);
}

export function appendHistory(workDir: string, r: ReleaseRecord): void {
  const h = readHistory(workDir);
  h.releases.push(r);
  writeHistory(workDir, h);
}

/**
 * Migrations applied by releases newer than `target` up to `current` (in history order):
 * what a rollback to `target` leaves in the database that its code does not know.
 */
export function migrationsAfter(h: History, target: string, current: string | undefined): { release: string; migration: string }[] {
  const ok = h.releases.filter((r) => r.status === 'ok' || r.migrations.length > 0);
  const from = ok.findIndex((r) => r.id === target);
  const to = current ? ok.findIndex((r) => r.id === current) : ok.length - 1;
  if (from < 0) return [];
  return ok.slice(from + 1, (to < 0 ? ok.length - 1 : to) + 1).flatMap((r) => r.migrations.map((m) => ({ release: r.id, migration: m })));
}
